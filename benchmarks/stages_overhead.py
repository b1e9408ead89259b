"""What language id and near-duplicate collapse cost on an all-English stream, end to end.

The same bounded `triage run` as ``benchmarks/end_to_end.py`` (real HumAID posts, embedded
Tansu broker, FnApiRunner), with the new per-post stages on (the defaults: language id,
multilingual package, near-duplicates) and off (``--no-language-id --no-dedup
--multilingual-model none``), alternating within each repeat (which runs first alternates too),
so the shared machine's load drifts over both alike. Reported: posts/s of each (medians) and the
median of per-repeat slowdowns.
The posts carry no ``lang`` field, so every post is identified (the worst case: posts from a
platform that tags languages skip identification). Target: under 10% slower.

    .venv/bin/python benchmarks/stages_overhead.py --repeats 9
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.end_to_end import DEFAULT_FILE, load_posts, pipeline_throughput  # noqa: E402
from benchmarks.results import write_section  # noqa: E402
from models.package import resolve_model  # noqa: E402
from pipeline.broker import EmbeddedBroker  # noqa: E402
from pipeline.job_args import default_threads  # noqa: E402
from pipeline.kafka.config import KafkaSettings  # noqa: E402

HEADING = "## Cost of language id and near-duplicates (all-English stream)"
OFF_FLAGS = "--no-language-id --no-dedup --multilingual-model none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    model = resolve_model(None)
    posts = [{"id": p["id"], "text": p["text"]} for p in load_posts(DEFAULT_FILE, args.posts)]
    base = {"batch_size": 32, "threads": default_threads(), "partitions": 1}
    variants = {"stages off": OFF_FLAGS, "stages on (defaults)": ""}
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    load_before = os.getloadavg()
    with EmbeddedBroker() as broker:
        settings = KafkaSettings(broker.bootstrap_servers)
        for repeat in range(args.repeats):
            order = list(variants.items())
            if repeat % 2:  # ABBA: neither setting always runs first
                order.reverse()
            for i, (name, flags) in enumerate(order):
                options = argparse.Namespace(**base, job_flags=flags)
                run = 100 + repeat * len(variants) + i
                speeds[name].append(pipeline_throughput(settings, posts, model, run, options))
            print({name: round(v[-1], 1) for name, v in speeds.items()}, flush=True)
    load_after = os.getloadavg()
    off, on = speeds["stages off"], speeds["stages on (defaults)"]
    slowdowns = [1 - b / a for a, b in zip(off, on, strict=True)]
    command = shlex.join([".venv/bin/python", "benchmarks/stages_overhead.py", *sys.argv[1:]])
    section = (
        f"{HEADING}\n\n"
        f"Command: `{command}`. {len(posts)} HumAID Maria test posts (cycled, no `lang` field), "
        f"{model.name}, batch 32, bounded `triage run` on FnApiRunner and the embedded broker, "
        f"{args.repeats} repeats alternating the two settings (ABBA); load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (2 shared cores).\n\n"
        "| setting | posts/s (median) | per repeat |\n|---|---:|---|\n"
        + "\n".join(
            f"| {name} | {statistics.median(v):.1f} | {', '.join(f'{x:.0f}' for x in v)} |"
            for name, v in speeds.items()
        )
        + f"\n\nSlowdown (median of per-repeat ratios): {statistics.median(slowdowns):.1%} "
        f"(per repeat: {', '.join(f'{s:.1%}' for s in slowdowns)}); target < 10%.\n"
    )
    print(section)
    if not args.no_write:
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
