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
import random
import shlex
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results import write_section  # noqa: E402
from tqdm import tqdm  # noqa: E402

from pipeline.broker import EmbeddedBroker, free_port  # noqa: E402
from pipeline.chaos import (  # noqa: E402
    JobProcess,
    RateProducer,
    fuzz_corpus,
    judge,
    produce_cases,
    wait_until,
)
from pipeline.kafka import KafkaSettings, ensure_topics  # noqa: E402
from pipeline.routing import output_topics  # noqa: E402
from pipeline.watch import OutputWatcher  # noqa: E402

HEADING = "## Chaos"
JSON_OUT = ROOT / "benchmarks" / "chaos.json"


def _topics(settings: KafkaSettings, name: str, partitions: int) -> tuple[str, str]:
    topic, prefix = f"{name}.posts", name
    ensure_topics(settings, [topic], partitions=partitions)
    ensure_topics(settings, output_topics(prefix), partitions=partitions)
    return topic, prefix


def run_fuzz(settings: KafkaSettings, args: argparse.Namespace, log_dir: Path) -> dict:
    """N fuzzed messages through one bounded job run."""
    topic, prefix = _topics(settings, "chaosfuzz", args.partitions)
    cases = fuzz_corpus(args.messages, seed=args.seed, partitions=args.partitions)
    produced = produce_cases(settings, topic, cases, args.partitions)
    watcher = OutputWatcher(settings, prefix, topic).start()
    try:
        job = JobProcess(settings, topic, prefix, "chaosfuzz-job", args.model,
                         log_path=log_dir / "fuzz-job.log")  # fmt: skip
        code, tail = job.start("--bounded").wait(timeout_s=1800)
        seen = watcher.wait_for(len(produced), timeout_s=60)
    finally:
        watcher.stop()
    verdict = judge(produced, seen)
    pills = sum(1 for c in cases if c.kind.startswith("pill_"))
    return {
        "messages": len(produced),
        "partitions": args.partitions,
        "poison_pills": pills,
        "job_exit_code": code,
        "job_exits_with_error": int(code != 0),
        "routed": verdict.routed,
        "dead_lettered": verdict.dead_lettered,
        "lost": len(verdict.lost),
        "wrong_outcome": len(verdict.wrong),
        "wrong_examples": verdict.wrong[:5],
        "duplicates": verdict.duplicates,
        "non_strict_json": verdict.non_strict,
        "reasons": dict(seen.reasons),
        "job_tail": tail[-500:] if code else "",
    }


def _committed_any(settings: KafkaSettings, topic: str, group: str, partitions: int) -> Any:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), group_id=group,
                             enable_auto_commit=False)  # fmt: skip

    def committed() -> int:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions))

    return consumer, committed


def run_kills(settings: KafkaSettings, args: argparse.Namespace, log_dir: Path) -> dict:
    """Stream at ``--rate``; SIGKILL the job ``--kills`` times mid-stream; drain; count."""
    rng = random.Random(args.seed)
    topic, prefix = _topics(settings, "chaoskill", args.partitions)
    group = "chaoskill-job"
    watcher = OutputWatcher(settings, prefix, topic).start()
    consumer, committed = _committed_any(settings, topic, group, args.partitions)
    producer = RateProducer(settings, topic, args.rate, seed=args.seed).start()
    job = JobProcess(settings, topic, prefix, group, args.model, tuple(args.job_args),
                     log_path=log_dir / "kill-job.log")  # fmt: skip
    kills: list[dict] = []
    try:
        job.start()
        for _ in tqdm(range(args.kills), desc="SIGKILLs", unit="kill"):
            before = watcher.snapshot().total
            # Mid-stream: the job is up and routing (its output grows), then a random moment.
            wait_until(lambda b=before: watcher.snapshot().total > b + 50, 180, "job output")
            time.sleep(rng.uniform(0.5, args.kill_window))
            routed_at_kill = watcher.snapshot().total
            job.kill()
            kills.append({"routed_before": routed_at_kill, "committed": committed()})
            job.start()
        time.sleep(1.0)
        producer.stop()
        job.kill()  # the last streaming run ends with a kill as well
        final = JobProcess(settings, topic, prefix, group, args.model, tuple(args.job_args),
                           log_path=log_dir / "kill-final.log")  # fmt: skip
        code, tail = final.start("--stop-after-idle", "5").wait(timeout_s=1800)
        seen = watcher.wait_for(len(producer.acked), timeout_s=60)
    finally:
        watcher.stop()
        consumer.close()
        if job.alive():
            job.kill()
    offsets = set(seen.input_offsets)
    lost = len(producer.acked - offsets)
    posts = len(producer.acked)
    return {
        "posts": posts,
        "rate": args.rate,
        "partitions": args.partitions,
        "kills": len(kills),
        "lost": lost,
        "duplicates": seen.duplicates,
        "duplicates_per_kill": round(seen.duplicates / max(1, len(kills)), 1),
        "duplicate_share": round(seen.duplicates / max(1, posts), 4),
        "producer_failures": producer.failed,
        "final_exit_code": code,
        "job_args": args.job_args,
        "job_tail": tail[-500:] if code else "",
    }


def run_broker_restarts(args: argparse.Namespace, log_dir: Path) -> dict:
    """Restart the durable embedded broker under one running job, ``--runs`` times.

    The job must ride out the outage on its own and end by itself (``--stop-after-idle``) once
    the stream is drained. Lost by the job = input the broker holds that was never routed;
    lost by the broker = writes it acknowledged to the producer but does not hold.
    """
    runs = []
    for run in tqdm(range(args.runs), desc="broker restarts", unit="run"):
        data_dir = Path(tempfile.mkdtemp(prefix="chaos-broker-"))
        port = free_port()
        broker = EmbeddedBroker(port=port, data_dir=data_dir).start()
        settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        topic, prefix = _topics(settings, f"chaosbroker{run}", args.partitions)
        group = f"chaosbroker{run}-job"
        producer = RateProducer(settings, topic, args.rate, seed=args.seed + run).start()
        job = JobProcess(
            settings,
            topic,
            prefix,
            group,
            args.model,
            (*args.job_args, "--stop-after-idle", "15"),
            log_path=log_dir / f"broker-job-{run}.log",
        )
        job.start()
        try:
            _wait_for_output(settings, prefix, topic)
            time.sleep(args.restart_after)
            broker.stop()
            time.sleep(args.down_for)
            broker = EmbeddedBroker(port=port, data_dir=data_dir).start()
            time.sleep(args.restart_after)
            producer.stop()
            code, tail = job.wait(timeout_s=900)
            watcher = OutputWatcher(settings, prefix, topic).start()
            seen = watcher.wait_for(len(producer.acked), timeout_s=30)
            watcher.stop()
            stored = _stored_offsets(settings, topic)
        finally:
            if job.alive():
                job.kill()
            broker.stop()
        runs.append(
            {
                "posts_acked": len(producer.acked),
                "acked_not_stored": len(producer.acked - stored),
                "stored_not_routed": len(stored - set(seen.input_offsets)),
                "duplicates": seen.duplicates,
                "producer_failures": producer.failed,
                "job_exit_code": code,
                "job_tail": tail[-300:] if code else "",
            }
        )
        tqdm.write(f"broker run {run}: {runs[-1]}")
    return {
        "runs": runs,
        "lost_by_job": sum(r["stored_not_routed"] for r in runs),
        "lost_by_broker": sum(r["acked_not_stored"] for r in runs),
        "job_exits_with_error": sum(1 for r in runs if r["job_exit_code"] != 0),
        "rate": args.rate,
        "job_args": args.job_args,
    }


def _wait_for_output(settings: KafkaSettings, prefix: str, topic: str) -> None:
    """Block until the job routes its first posts (it is running, past its start-up)."""
    watcher = OutputWatcher(settings, prefix, topic).start()
    try:
        wait_until(lambda: watcher.snapshot().total > 0, 180, "the job's first output")
    finally:
        watcher.stop()


def _stored_offsets(settings: KafkaSettings, topic: str) -> set[tuple[int, int]]:
    """(partition, offset) of every record the broker really holds in ``topic``."""
    from kafka import KafkaConsumer, TopicPartition

    from pipeline.kafka.offsets import read_from_beginning

    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {(r.partition, r.offset) for r in read_from_beginning(consumer, parts)}
    finally:
        consumer.close()


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
    """Merge ``results`` into chaos.json and rewrite the "## Chaos" section of RESULTS.md."""
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
        "--model", default="triage-tiny", help="model package (default triage-tiny)"
    )
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messages", type=int, default=10_000, help="fuzz: messages")
    parser.add_argument("--rate", type=float, default=500.0, help="kill/broker: posts per second")
    parser.add_argument("--kills", type=int, default=10, help="kill: SIGKILLs")
    parser.add_argument(
        "--kill-window",
        type=float,
        default=4.0,
        help="kill: seconds after the job routes again within which it is killed",
    )
    parser.add_argument("--runs", type=int, default=5, help="broker-restart: runs")
    parser.add_argument(
        "--restart-after",
        type=float,
        default=8.0,
        help="broker-restart: seconds of streaming before and after the outage",
    )
    parser.add_argument(
        "--down-for", type=float, default=2.0, help="broker-restart: outage seconds"
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
    log_dir = Path(tempfile.mkdtemp(prefix="triage-chaos-"))
    print(f"job logs in {log_dir}", file=sys.stderr)
    results: dict[str, Any] = {"model": args.model}
    needs_memory_broker = args.scenario in ("fuzz", "kill", "all")
    if needs_memory_broker:
        with EmbeddedBroker() as broker:
            settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
            if args.scenario in ("fuzz", "all"):
                results["fuzz"] = run_fuzz(settings, args, log_dir)
                print(json.dumps(results["fuzz"], indent=2))
            if args.scenario in ("kill", "all"):
                results["kill"] = run_kills(settings, args, log_dir)
                print(json.dumps(results["kill"], indent=2))
    if args.scenario in ("broker-restart", "all"):
        results["broker_restart"] = run_broker_restarts(args, log_dir)
        print(json.dumps(results["broker_restart"], indent=2))
    if not args.no_write:
        write_results(results, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
