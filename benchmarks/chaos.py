"""Chaos benchmark: the real job under fuzzed input, repeated SIGKILLs and broker restarts.

Each scenario reports lost, duplicated and dead-lettered counts, read back from the job's real
output topics (``pipeline.watch.OutputWatcher``), and writes its table to benchmarks/RESULTS.md
under "## Chaos" (with the command that made it).

* ``fuzz``: N fuzzed messages (every poison pill and JSONTestSuite-style case in every
  partition, half malformed) through one bounded job: exits, lost, wrong outcomes, non-strict
  JSON.
* ``kill``: posts produced at ``--rate`` per second while the streaming job is SIGKILLed
  ``--kills`` times mid-stream and restarted at once; then drained. Lost and duplicates.
* ``broker-restart``: the durable embedded broker (``--data-dir``) is stopped and started under
  a running job, ``--runs`` times; lost input (acked by the broker, never routed) and lost
  acked writes.

Examples::

    .venv/bin/python benchmarks/chaos.py fuzz --messages 10000
    .venv/bin/python benchmarks/chaos.py kill --kills 10 --rate 500
    .venv/bin/python benchmarks/chaos.py broker-restart --runs 5 --rate 500
    .venv/bin/python benchmarks/chaos.py all
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results import write_section  # noqa: E402

from pipeline.broker import EmbeddedBroker  # noqa: E402
from pipeline.chaos.scenarios import (  # noqa: E402
    ChaosOptions,
    run_broker_restarts,
    run_fuzz,
    run_kills,
)
from pipeline.kafka import KafkaSettings  # noqa: E402

HEADING = "## Chaos"
JSON_OUT = ROOT / "benchmarks" / "chaos.json"


def _table(results: dict) -> str:
    rows = ["| scenario | what | result |", "|---|---|---|"]
    if "fuzz" in results:
        f = results["fuzz"]
        rows += [
            f"| fuzz | messages (partitions, poison pills) | {f['messages']} ({f['partitions']}, "
            f"{f['poison_pills']}) |",
            f"| fuzz | job exits with an error | {f['job_exits_with_error']} |",
            f"| fuzz | routed / dead-lettered | {f['routed']} / {f['dead_lettered']} |",
            f"| fuzz | lost / wrong outcome / duplicates | {f['lost']} / {f['wrong_outcome']} / "
            f"{f['duplicates']} |",
            f"| fuzz | routed or dead letters that are not strict JSON | {f['non_strict_json']} |",
        ]
    if "kill" in results:
        k = results["kill"]
        rows += [
            f"| kill | posts at {k['rate']}/s, partitions, SIGKILLs | {k['posts']}, "
            f"{k['partitions']}, {k['kills']} |",
            f"| kill | lost | {k['lost']} |",
            f"| kill | duplicates (per kill; share of posts) | {k['duplicates']} "
            f"({k['duplicates_per_kill']}; {k['duplicate_share']:.2%}) |",
        ]
    if "broker_restart" in results:
        b = results["broker_restart"]
        acked = sum(r["posts_acked"] for r in b["runs"])
        rows += [
            f"| broker restart | runs, posts acked at {b['rate']}/s | {len(b['runs'])}, {acked} |",
            f"| broker restart | job exits with an error | {b['job_exits_with_error']} |",
            f"| broker restart | stored by the broker, never routed (lost by the job) | "
            f"{b['lost_by_job']} |",
            f"| broker restart | acked to the producer, not stored (lost by the broker) | "
            f"{b['lost_by_broker']} |",
            f"| broker restart | duplicates per run | "
            f"{', '.join(str(r['duplicates']) for r in b['runs'])} |",
        ]
    return "\n".join(rows)


def write_results(results: dict, command: str) -> None:
    """Merge ``results`` into chaos.json and rewrite the "## Chaos" section of RESULTS.md.

    A ``note`` in chaos.json (context: baselines, conditions) is printed under the table.
    """
    merged = json.loads(JSON_OUT.read_text()) if JSON_OUT.exists() else {}
    merged.update(results)
    merged.setdefault("commands", {}).update({name: command for name in results})
    JSON_OUT.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    commands = "\n".join(sorted(set(merged["commands"].values())))
    section = (
        f"{HEADING}\n\nThe real job (`triage run`, model {merged.get('model', 'default')}) on the "
        "embedded broker, 2 shared cores; counts read back from the output topics. Latest run "
        f"{datetime.now():%Y-%m-%d %H:%M}; raw numbers in `benchmarks/chaos.json`.\n\n"
        f"```\n{commands}\n```\n\n{_table(merged)}\n"
        + (f"\n{merged['note']}\n" if merged.get("note") else "")
    )
    write_section(HEADING, section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__[__doc__.index("Examples::") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", choices=("fuzz", "kill", "broker-restart", "all"))
    parser.add_argument(
        "--model", default=ChaosOptions.model, help="model package (default triage-tiny)"
    )
    parser.add_argument("--partitions", type=int, default=ChaosOptions.partitions)
    parser.add_argument("--seed", type=int, default=ChaosOptions.seed)
    parser.add_argument(
        "--messages", type=int, default=ChaosOptions.messages, help="fuzz: messages"
    )
    parser.add_argument(
        "--rate", type=float, default=ChaosOptions.rate, help="kill/broker: posts per second"
    )
    parser.add_argument("--kills", type=int, default=ChaosOptions.kills, help="kill: SIGKILLs")
    parser.add_argument(
        "--kill-window",
        type=float,
        default=ChaosOptions.kill_window,
        help="kill: seconds after the job routes again within which it is killed",
    )
    parser.add_argument("--runs", type=int, default=ChaosOptions.runs, help="broker-restart: runs")
    parser.add_argument(
        "--restart-after",
        type=float,
        default=ChaosOptions.restart_after,
        help="broker-restart: seconds of streaming before and after the outage",
    )
    parser.add_argument(
        "--down-for",
        type=float,
        default=ChaosOptions.down_for,
        help="broker-restart: outage seconds",
    )
    parser.add_argument(
        "--job-arg",
        dest="job_args",
        action="append",
        default=[],
        help="extra flag for `triage run` (repeatable), e.g. --job-arg=--linger-ms=10",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    command = "python benchmarks/chaos.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    fields = {k: v for k, v in vars(args).items() if k in ChaosOptions.__dataclass_fields__}
    opts = ChaosOptions(**{**fields, "job_args": tuple(args.job_args)})
    print(f"job logs in {opts.log_dir}", file=sys.stderr)
    results: dict[str, Any] = {"model": args.model}
    if args.scenario in ("fuzz", "kill", "all"):
        with EmbeddedBroker() as broker:
            settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
            if args.scenario in ("fuzz", "all"):
                results["fuzz"] = run_fuzz(settings, opts)
                print(json.dumps(results["fuzz"], indent=2))
            if args.scenario in ("kill", "all"):
                results["kill"] = run_kills(settings, opts)
                print(json.dumps(results["kill"], indent=2))
    if args.scenario in ("broker-restart", "all"):
        results["broker_restart"] = run_broker_restarts(opts)
        print(json.dumps(results["broker_restart"], indent=2))
    if not args.no_write:
        write_results(results, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
