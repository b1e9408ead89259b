"""Speed of every model side by side: ``python benchmarks/models.py [options]``.

The same as ``triage distill benchmark`` (see ``--help``): the teacher in PyTorch fp32 (and ONNX
fp32 if given), each shipped ONNX int8 package, and the default student served by a plain
transformers pipeline, on the same real tweets, 2 threads, medians after warm-up. Writes
``benchmarks/models.json`` and the "Models: accuracy and speed" section of
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this file ("models.py") would
# shadow the project's ``models`` package: drop that entry (the project is installed).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from distill.eval_cli import register
    from models.errors import TriageError

    parser = argparse.ArgumentParser(prog="benchmarks/models.py")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["benchmark", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except TriageError as exc:
        print(f"benchmarks/models.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
