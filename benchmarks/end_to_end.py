"""End-to-end streaming benchmark: Kafka → Beam → ONNX → Kafka vs the model alone.

One run reports, on the same posts (real tweets: the HumAID Hurricane Maria test split):

* raw model throughput: ``OnnxClassifier.predict`` in batches of ``--batch-size`` with the same
  threads (what the job's RunInference calls),
* pipeline throughput: N posts preloaded in Kafka, `triage run --bounded` in a subprocess;
  posts/s from the first post read (``ingested_at``) to the last routed message's Kafka
  timestamp (the job's start-up — Python imports, model load — is not counted),
* their ratio (target ≥ 85 %),
* produce → routed latency (p50/p99; target p99 ≤ 1 s) from a streaming `triage run` fed at
  half the measured pipeline rate: routed message timestamp − input message timestamp.

Throughputs are medians over ``--repeats``. The table and the exact command are written to
benchmarks/RESULTS.md under "## End-to-end streaming" (other sections are left alone).

    .venv/bin/python benchmarks/end_to_end.py [--model DIR] [--posts 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from results import write_section  # noqa: E402

from models.package import ModelPackage, resolve_model  # noqa: E402
from models.runtime import OnnxClassifier, RuntimeOptions  # noqa: E402
from pipeline.broker import EmbeddedBroker, free_port  # noqa: E402
from pipeline.job_args import default_threads  # noqa: E402
from pipeline.kafka import KafkaSettings, ensure_topics  # noqa: E402
from pipeline.kafka.offsets import read_from_beginning  # noqa: E402
from pipeline.replay import replay_posts  # noqa: E402
from pipeline.routing import output_topics  # noqa: E402
from pipeline.watch import OutputWatcher, percentile  # noqa: E402

DATA = Path(os.environ.get("TRIAGE_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_FILE = DATA / "humaid_maria" / "humaid_maria.csv"
HEADING = "## End-to-end streaming"


def load_posts(path: Path, n: int) -> list[dict]:
    """``n`` posts from the file's test split (cycled with fresh ids if it is shorter)."""
    import polars as pl

    frame = pl.read_csv(path, infer_schema_length=0)
    if "split" in frame.columns and (frame["split"] == "test").any():
        frame = frame.filter(pl.col("split") == "test")
    texts = [t for t in frame["text"].to_list() if t and t.strip()]
    return [{"id": f"bench-{i}", "text": texts[i % len(texts)]} for i in range(n)]


def raw_throughput(model: Path, texts: list[str], batch_size: int, threads: int) -> float:
    """Posts/s of the model alone, in RunInference-sized batches."""
    options = RuntimeOptions(intra_op_threads=threads)
    classifier = OnnxClassifier.from_path(model, options)
    classifier.predict(texts[: batch_size * 2])  # warm-up
    start = time.perf_counter()
    for begin in range(0, len(texts), batch_size):
        classifier.predict(texts[begin : begin + batch_size])
    return len(texts) / (time.perf_counter() - start)


def job_argv(bootstrap: str, topic: str, prefix: str, model: Path, args) -> list[str]:
    return [
        sys.executable, "-m", "pipeline.cli", "run",
        "--bootstrap-servers", bootstrap,
        "--input-topic", topic,
        "--output-prefix", prefix,
        "--group-id", f"{prefix}-job",
        "--model", str(model),
        "--batch-size", str(args.batch_size),
        "--threads", str(args.threads),
        *shlex.split(args.job_flags),
    ]  # fmt: skip


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def routed_span(settings: KafkaSettings, prefix: str) -> tuple[float, float, int]:
    """(first ``ingested_at``, last routed Kafka timestamp, messages) over the output topics,
    timestamps in ms: the span a job took from reading its first post to writing its last."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), enable_auto_commit=False)
    first_in, last_out, count = float("inf"), 0.0, 0
    try:
        for out_topic in output_topics(prefix):
            parts = [TopicPartition(out_topic, p) for p in consumer.partitions_for_topic(out_topic)]
            for record in read_from_beginning(consumer, parts):
                stamp = json.loads(record.value).get("ingested_at")
                if stamp:
                    first_in = min(first_in, iso_ms(stamp))
                last_out = max(last_out, record.timestamp)
                count += 1
    finally:
        consumer.close()
    return first_in, last_out, count


def pipeline_throughput(
    settings: KafkaSettings, posts: list[dict], model: Path, run: int, args
) -> float:
    """Posts/s of a bounded job over ``posts`` preloaded in Kafka."""
    topic, prefix = f"bench{run}.posts", f"bench{run}"
    ensure_topics(settings, [topic], args.partitions)
    replay_posts(settings, topic, posts)
    argv = job_argv(settings.bootstrap_servers, topic, prefix, model, args) + ["--bounded"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"bounded job failed:\n{done.stderr[-3000:]}")
    first_in, last_out, count = routed_span(settings, prefix)
    if count != len(posts):
        raise SystemExit(f"expected {len(posts)} routed posts, read {count}")
    return count / ((last_out - first_in) / 1000.0)


def wait_serving(job: subprocess.Popen, port: int, timeout_s: float = 120) -> None:
    """Block until the job's source reports consumer lag (it is polling Kafka)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise SystemExit("the streaming job exited early")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                if b"triage_consumer_lag_messages{" in r.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the streaming job did not start")


def streaming_latency(
    settings: KafkaSettings, posts: list[dict], model: Path, rate: float, args
) -> tuple[float, float, int]:
    """p50, p99 (s) of produce → routed at ``rate`` posts/s into a running job."""
    topic, prefix = "latency.posts", "latency"
    ensure_topics(settings, [topic], args.partitions)
    ensure_topics(settings, output_topics(prefix), args.partitions)
    port = free_port()
    argv = job_argv(settings.bootstrap_servers, topic, prefix, model, args)
    job = subprocess.Popen(
        [*argv, "--metrics-port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watcher = OutputWatcher(settings, prefix, topic).start()
    try:
        wait_serving(job, port)
        n = min(len(posts), int(rate * args.latency_seconds))
        replay_posts(settings, topic, posts[:n], rate=rate)
        seen = watcher.wait_for(n, timeout_s=60)
    finally:
        watcher.stop()
        job.send_signal(2)
        try:
            job.wait(15)
        except subprocess.TimeoutExpired:
            job.kill()
    return percentile(seen.latencies_s, 50), percentile(seen.latencies_s, 99), seen.total


def write_results(section: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md."""
    write_section(HEADING, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model package (default: models/DEFAULT)")
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--threads", type=int, default=default_threads(), help="ORT intra-op threads (job default)"
    )
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument(
        "--job-flags", default="", help='more `triage run` flags, e.g. "--linger-ms 20"'
    )
    parser.add_argument("--note", default="", help="a sentence added to the results section")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    model = resolve_model(args.model)
    package = ModelPackage.load(model)
    posts = load_posts(args.file, args.posts)
    texts = [p["text"] for p in posts]
    raws, pipes = [], []
    with EmbeddedBroker() as broker:
        settings = KafkaSettings(broker.bootstrap_servers)
        for run in range(args.repeats):
            raws.append(raw_throughput(model, texts, args.batch_size, args.threads))
            pipes.append(pipeline_throughput(settings, posts, model, run, args))
            print(f"repeat {run + 1}: raw {raws[-1]:.1f} posts/s, pipeline {pipes[-1]:.1f} posts/s")
        raw, pipe = statistics.median(raws), statistics.median(pipes)
        rate = pipe / 2
        p50, p99, n_latency = streaming_latency(settings, posts, model, rate, args)

    load_after = os.getloadavg()[0]
    # Raw and pipeline alternate within a repeat: the median of per-repeat ratios cancels
    # the drift of a shared machine's load between repeats.
    ratio = statistics.median(p / r for p, r in zip(pipes, raws, strict=True))
    command = shlex.join([".venv/bin/python", "benchmarks/end_to_end.py", *sys.argv[1:]])
    cores = os.cpu_count()
    note = args.note + "\n" if args.note else ""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    per_raw = ", ".join(f"{r:.1f}" for r in raws)
    per_pipe = ", ".join(f"{p:.1f}" for p in pipes)
    section = f"""{HEADING}

Model `{package.model_id}` ({model.name}), {len(posts)} real posts (HumAID Maria test split,
cycled), batch size {args.batch_size}, ORT intra-op threads {args.threads or "all"}, {cores} CPU
cores, {args.partitions} input partition(s), FnApiRunner, embedded Tansu broker (memory storage).
{note}Medians over {args.repeats} repeats ({stamp} UTC; load average
{load_before:.1f} before, {load_after:.1f} after: other work shared the cores).

| measure | value | target |
|---|---|---|
| raw model (OnnxClassifier.predict, same batches/threads) | {raw:.1f} posts/s | |
| Kafka → Beam → ONNX → Kafka (bounded `triage run`) | {pipe:.1f} posts/s | |
| ratio pipeline / raw (median of per-repeat ratios) | {ratio:.1%} | ≥ 85 % |
| produce → routed latency p50 at {rate:.0f} posts/s (half max) | {p50 * 1000:.0f} ms | |
| produce → routed latency p99 ({n_latency} posts) | {p99 * 1000:.0f} ms | ≤ 1000 ms |

Per repeat: raw {per_raw}; pipeline {per_pipe} posts/s.
Pipeline throughput counts from the first post read to the last routed message written (job
start-up excluded); latency = routed message's Kafka timestamp − input message's timestamp.

Command:

```
{command}
```
"""
    print(section)
    if not args.no_write:
        write_results(section)


if __name__ == "__main__":
    main()
