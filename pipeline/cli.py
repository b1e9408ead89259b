"""The `triage` console command: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from models.errors import TriageError

# (module, attribute) of each subcommand's ``register(subparsers)``, in --help order.
COMMANDS: list[str] = [
    "pipeline.commands.demo",
    "pipeline.commands.run",
    "pipeline.commands.broker",
    "pipeline.commands.replay",
    "pipeline.commands.classify",
    "pipeline.commands.backfill",
    "pipeline.commands.dashboard",
    "pipeline.commands.learn",
    "distill.cli",
]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line plus a hint, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="triage",
        description=(
            "Crisis triage: classify crisis posts from Kafka and route the actionable ones."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Start with `triage demo` (no arguments). Every subcommand has --help with examples."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for module_name in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose module is not built yet
            if exc.name == module_name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Beam warns at import that optional GCP client libraries are missing: noise for a CLI.
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
    parser = build_parser()
    # Commands that set_defaults(pass_through=True) (e.g. `run`) receive unknown flags in
    # args.extra_args (Beam's own options); for every other command they are an error.
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "pass_through", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra_args = extra
    try:
        return int(args.func(args) or 0)
    except TriageError as exc:
        print(f"triage {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"triage {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
