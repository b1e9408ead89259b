"""Scaling benchmark: job replicas on a partitioned topic, and the Dask backfill by input size.

One command measures, on real posts (HumAID, all events; texts cycled with fresh ids):

* streaming: ``triage run --bounded`` with 1 and with 2 replicas (``--replicas 2 --replica
  0|1``, started together) on a 4-partition topic preloaded with ``--stream-posts`` posts:
  posts/s from the first post read (``ingested_at``) to the last routed message, and each
  replica's share of the routed posts;
* backfill vs one process: ``triage classify`` (one process, ONNX Runtime on every core) and
  ``triage backfill`` on a local Dask cluster of 1 and of 2 workers (1 ONNX thread each) over
  the same ``--compare-posts`` posts (a Parquet file): wall time of each command, start-up
  included, and the share of labels on which backfill and classify agree;
* growth: the 2-worker backfill on each of ``--growth`` sizes.

Each measurement is saved to runs/scaling/measurements.json as it finishes, and the table is
rewritten in benchmarks/RESULTS.md ("## Scaling") after each one, with the exact command, so a
long run that is stopped keeps what it measured. A size of 0 skips that part. ``--append``
keeps the earlier measurements (a new one replaces the same run and size) and lists every
command that made the table.

    .venv/bin/python benchmarks/scaling.py --stream-posts 20000 --compare-posts 100000 \\
        --growth 300000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from end_to_end import routed_span  # noqa: E402
from results import write_section  # noqa: E402

from pipeline.broker import EmbeddedBroker  # noqa: E402
from pipeline.kafka import KafkaSettings, ensure_topics  # noqa: E402
from pipeline.replay import replay_posts  # noqa: E402
from pipeline.routing import output_topics  # noqa: E402
from pipeline.watch import OutputWatcher  # noqa: E402

DATA = Path(os.environ.get("TRIAGE_DATA", ROOT.parent / "shared" / "data"))
SOURCE = DATA / "humaid" / "humaid.csv"
WORK = ROOT / "runs" / "scaling"
MEASUREMENTS = WORK / "measurements.json"
HEADING = "## Scaling"
PARTITIONS = 4
TRIAGE = [sys.executable, "-m", "pipeline.cli"]


def real_texts() -> list[str]:
    import polars as pl

    frame = pl.read_csv(SOURCE, infer_schema_length=0)
    return [t for t in frame["text"].to_list() if t and t.strip()]


def posts_file(texts: list[str], n: int) -> Path:
    """runs/scaling/posts-N.parquet: ``n`` posts, texts cycled, ids ``scale-<i>``."""
    import polars as pl

    path = WORK / f"posts-{n}.parquet"
    if not path.exists():
        ids = [f"scale-{i}" for i in range(n)]
        cycled = [texts[i % len(texts)] for i in range(n)]
        pl.DataFrame({"id": ids, "text": cycled}).write_parquet(path)
    return path


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def stream(settings: KafkaSettings, texts: list[str], n: int, replicas: int, run: str) -> dict:
    """A bounded run of ``replicas`` replicas over ``n`` posts preloaded in a 4-partition topic."""
    topic, prefix = f"{run}.posts", run
    ensure_topics(settings, [topic], PARTITIONS)
    ensure_topics(settings, output_topics(prefix), PARTITIONS)
    posts = [{"id": f"{run}-{i}", "text": texts[i % len(texts)]} for i in range(n)]
    replay_posts(settings, topic, posts)
    watcher = OutputWatcher(settings, prefix, topic).start()
    load_before = load()
    jobs = [
        subprocess.Popen(
            [
                *TRIAGE,
                "run",
                "--bootstrap-servers",
                settings.bootstrap_servers,
                "--input-topic",
                topic,
                "--output-prefix",
                prefix,
                "--group-id",
                f"{run}-job",
                "--bounded",
                "--replicas",
                str(replicas),
                "--replica",
                str(index),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for index in range(replicas)
    ]
    for job in jobs:
        _, err = job.communicate()
        if job.returncode != 0:
            raise SystemExit(f"replica failed:\n{err[-3000:]}")
    seen = watcher.wait_for(n, timeout_s=60)
    watcher.stop()
    if len(seen.input_offsets) < n:
        raise SystemExit(f"expected {n} routed posts, saw {len(seen.input_offsets)}")
    first_in, last_out = _span(settings, prefix)
    shares = Counter(partition % replicas for partition, _ in seen.input_offsets.elements())
    return {
        "part": "stream",
        "posts": n,
        "replicas": replicas,
        "posts_per_s": n / ((last_out - first_in) / 1000.0),
        "shares": [shares[i] / seen.total for i in range(replicas)],
        "load": f"{load_before} → {load()}",
    }


def _span(settings: KafkaSettings, prefix: str) -> tuple[float, float]:
    """First ``ingested_at`` and last routed Kafka timestamp (ms) over the output topics."""
    first_in, last_out, _ = routed_span(settings, prefix)
    return first_in, last_out


def timed(argv: list[str]) -> float:
    """Wall seconds of a command (start-up included); exits on failure."""
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[2:])} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - start


def classify(path: Path, n: int) -> tuple[dict, dict[str, str]]:
    out = WORK / f"classify-{n}.jsonl"
    load_before = load()
    seconds = timed(
        [*TRIAGE, "classify", "--input", str(path), "--output", str(out), "--no-progress"]
    )
    labels = {}
    with out.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            labels[row["id"]] = row["label"]
    row = {"part": "classify", "posts": n, "workers": 0, "seconds": seconds}
    return row | {"posts_per_s": n / seconds, "load": f"{load_before} → {load()}"}, labels


def backfill(path: Path, n: int, workers: int, expected: dict[str, str] | None) -> dict:
    import shutil

    import polars as pl

    out = WORK / f"backfill-{n}-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    load_before = load()
    seconds = timed(
        [
            *TRIAGE, "backfill", "--input", str(path), "--output", str(out),
            "--workers", str(workers), "--dashboard-address", ":0", "--no-progress",
        ]
    )  # fmt: skip
    row = {"part": "backfill", "posts": n, "workers": workers, "seconds": seconds}
    row |= {"posts_per_s": n / seconds, "load": f"{load_before} → {load()}"}
    labels = pl.read_parquet(out / "labels" / "*.parquet", columns=["id", "label"])
    if labels.height != n:
        raise SystemExit(f"backfill wrote {labels.height} labels for {n} posts")
    if expected is not None:
        pairs = zip(labels["id"], labels["label"], strict=True)
        same = sum(expected[i] == label for i, label in pairs)
        row["agreement"] = same / n
    shutil.rmtree(out, ignore_errors=True)  # a 1M-post output is ~100 MB
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| run | posts | replicas / workers | wall s | posts/s | × one process | note | load |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    base = {r["posts"]: r["posts_per_s"] for r in rows if r["part"] == "classify"}
    one = {
        r["posts"]: r["posts_per_s"] for r in rows if r["part"] == "stream" and r["replicas"] == 1
    }
    order = {"stream": 0, "classify": 1, "backfill": 2}
    ranked = sorted(
        rows, key=lambda r: (order[r["part"]], r["posts"], _key(r)[2] or 0, _key(r)[3] or 0)
    )
    for r in ranked:
        if r["part"] == "stream":
            shares = " / ".join(f"{s:.0%}" for s in r["shares"])
            ratio = r["posts_per_s"] / one[r["posts"]] if r["posts"] in one else None
            lines.append(
                f"| `triage run --bounded` | {r['posts']} | {r['replicas']} replica(s) | | "
                f"{r['posts_per_s']:.0f} | {_ratio(ratio)} (vs 1 replica) | "
                f"share per replica {shares} | {r['load']} |"
            )
            continue
        name = "`triage classify` (1 process)" if r["part"] == "classify" else "`triage backfill`"
        who = "1 process" if r["part"] == "classify" else f"{r['workers']} worker(s)"
        ratio = r["posts_per_s"] / base[r["posts"]] if r["posts"] in base else None
        note = f"labels agree with classify: {r['agreement']:.2%}" if "agreement" in r else ""
        lines.append(
            f"| {name} | {r['posts']} | {who} | {r['seconds']:.0f} | {r['posts_per_s']:.0f} | "
            f"{_ratio(ratio)} | {note} | {r['load']} |"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""


def _key(row: dict) -> tuple:
    return row["part"], row["posts"], row.get("replicas"), row.get("workers")


def write(rows: list[dict], commands: list[str], note: str) -> None:
    saved = {"commands": commands, "note": note, "rows": rows}
    MEASUREMENTS.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    command = "\n".join(commands)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""{HEADING}

Replicas of the streaming job on one 4-partition topic, and `triage backfill` (Beam's
DaskRunner on a local Dask cluster) against `triage classify` in one process. Real posts (HumAID
texts, cycled with fresh ids), the default model, the embedded Tansu broker (memory storage),
one machine with 2 shared CPU cores: the replicas and workers share those 2 cores, so this
measures the overhead and the partitioning, not extra hardware. `triage classify` runs ONNX
Runtime on every core; each Dask worker and each replica uses 1 ONNX thread. Wall seconds
include start-up (Python imports, model load, cluster start). Stream posts/s run from the
first post read to the last routed message. {note}
Measured {stamp}; load average (1 min/5 min) before → after each run.

{table(rows)}

Command{"s, in order" if len(commands) > 1 else ""}:

```
{command}
```
"""
    write_section(HEADING, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stream-posts", type=int, default=20_000)
    parser.add_argument("--compare-posts", type=int, default=100_000)
    parser.add_argument(
        "--compare-workers",
        type=int,
        nargs="*",
        default=[1, 2],
        help="backfill worker counts compared with classify (none: classify alone)",
    )
    parser.add_argument("--growth", type=int, nargs="*", default=[300_000, 1_000_000])
    parser.add_argument("--note", default="", help="a sentence added to the results section")
    parser.add_argument(
        "--append", action="store_true", help="keep earlier measurements (see above)"
    )
    args = parser.parse_args()
    command = shlex.join([".venv/bin/python", "benchmarks/scaling.py", *sys.argv[1:]])
    WORK.mkdir(parents=True, exist_ok=True)
    texts = real_texts()
    rows: list[dict] = []
    commands = [command]
    note = args.note
    if args.append and MEASUREMENTS.exists():
        saved = json.loads(MEASUREMENTS.read_text(encoding="utf-8"))
        rows, commands = saved["rows"], [*saved["commands"], command]
        note = " ".join(n for n in (saved.get("note", ""), args.note) if n)

    def record(row: dict) -> None:
        rows[:] = [r for r in rows if _key(r) != _key(row)] + [row]
        print(json.dumps(row), flush=True)
        write(rows, commands, note)

    if args.stream_posts:
        broker = EmbeddedBroker().start()
        try:
            settings = KafkaSettings(broker.bootstrap_servers)
            for replicas in (1, 2):
                record(stream(settings, texts, args.stream_posts, replicas, f"scale{replicas}"))
        finally:
            broker.stop()
    if args.compare_posts:
        path = posts_file(texts, args.compare_posts)
        row, labels = classify(path, args.compare_posts)
        record(row)
        for workers in args.compare_workers:
            record(backfill(path, args.compare_posts, workers, labels))
    for n in args.growth:
        record(backfill(posts_file(texts, n), n, 2, None))
    if args.append and not (args.stream_posts or args.compare_posts or args.growth):
        write(rows, commands, note)  # only a note added to the earlier measurements


if __name__ == "__main__":
    main()
