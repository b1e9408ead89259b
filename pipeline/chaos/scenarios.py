"""Chaos scenarios against the real job: fuzzed input, SIGKILLs mid-stream, broker restarts.

Each returns plain counts (lost, duplicated, dead-lettered) read back from the output topics.
``benchmarks/chaos.py`` runs them at full size; ``tests/chaos`` at CI size.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.broker import EmbeddedBroker, free_port
from pipeline.chaos.corpus import fuzz_corpus, judge, produce_cases
from pipeline.chaos.processes import JobProcess, RateProducer, wait_until
from pipeline.kafka import KafkaSettings, ensure_topics
from pipeline.routing import output_topics
from pipeline.watch import OutputWatcher


@dataclass(frozen=True)
class ChaosOptions:
    """Sizes of the scenarios (defaults: the issue's full runs)."""

    model: str | None = "triage-tiny"
    partitions: int = 3
    seed: int = 1
    messages: int = 10_000  # fuzz
    rate: float = 500.0  # kill, broker restart: posts per second
    kills: int = 10
    kill_window: float = 4.0  # seconds after the job routes again within which it is killed
    runs: int = 5  # broker restarts
    restart_after: float = 4.0  # seconds of streaming before and after an outage
    down_for: float = 2.0  # seconds the broker is down
    job_args: tuple[str, ...] = ()
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="triage-chaos-")))


def _topics(settings: KafkaSettings, name: str, partitions: int) -> tuple[str, str]:
    topic, prefix = f"{name}.posts", name
    ensure_topics(settings, [topic], partitions=partitions)
    ensure_topics(settings, output_topics(prefix), partitions=partitions)
    return topic, prefix


def run_fuzz(settings: KafkaSettings, opts: ChaosOptions) -> dict:
    """N fuzzed messages through one bounded job run."""
    topic, prefix = _topics(settings, "chaosfuzz", opts.partitions)
    cases = fuzz_corpus(opts.messages, seed=opts.seed, partitions=opts.partitions)
    produced = produce_cases(settings, topic, cases, opts.partitions)
    watcher = OutputWatcher(settings, prefix, topic).start()
    try:
        job = JobProcess(settings, topic, prefix, "chaosfuzz-job", opts.model,
                         log_path=opts.log_dir / "fuzz-job.log")  # fmt: skip
        code, tail = job.start("--bounded").wait(timeout_s=1800)
        seen = watcher.wait_for(len(produced), timeout_s=60)
    finally:
        watcher.stop()
    verdict = judge(produced, seen)
    pills = sum(1 for c in cases if c.kind.startswith("pill_"))
    return {
        "messages": len(produced),
        "partitions": opts.partitions,
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


def run_kills(settings: KafkaSettings, opts: ChaosOptions) -> dict:
    """Stream at ``--rate``; SIGKILL the job ``--kills`` times mid-stream; drain; count."""
    rng = random.Random(opts.seed)
    topic, prefix = _topics(settings, "chaoskill", opts.partitions)
    group = "chaoskill-job"
    watcher = OutputWatcher(settings, prefix, topic).start()
    consumer, committed = _committed_any(settings, topic, group, opts.partitions)
    producer = RateProducer(settings, topic, opts.rate, seed=opts.seed).start()
    job = JobProcess(settings, topic, prefix, group, opts.model, tuple(opts.job_args),
                     log_path=opts.log_dir / "kill-job.log")  # fmt: skip
    kills: list[dict] = []
    try:
        job.start()
        for _ in tqdm(range(opts.kills), desc="SIGKILLs", unit="kill"):
            before = watcher.snapshot().total
            # Mid-stream: the job is up and routing (its output grows), then a random moment.
            wait_until(lambda b=before: watcher.snapshot().total > b + 50, 180, "job output")
            time.sleep(rng.uniform(0.5, opts.kill_window))
            routed_at_kill = watcher.snapshot().total
            job.kill()
            kills.append({"routed_before": routed_at_kill, "committed": committed()})
            job.start()
        time.sleep(1.0)
        producer.stop()
        job.kill()  # the last streaming run ends with a kill as well
        final = JobProcess(settings, topic, prefix, group, opts.model, tuple(opts.job_args),
                           log_path=opts.log_dir / "kill-final.log")  # fmt: skip
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
        "rate": opts.rate,
        "partitions": opts.partitions,
        "kills": len(kills),
        "lost": lost,
        "duplicates": seen.duplicates,
        "duplicates_per_kill": round(seen.duplicates / max(1, len(kills)), 1),
        "duplicate_share": round(seen.duplicates / max(1, posts), 4),
        "producer_failures": producer.failed,
        "final_exit_code": code,
        "job_args": opts.job_args,
        "job_tail": tail[-500:] if code else "",
    }


def run_broker_restarts(opts: ChaosOptions) -> dict:
    """Restart the durable embedded broker under one running job, ``--runs`` times.

    The job must ride out the outage on its own and end by itself (``--stop-after-idle``) once
    the stream is drained. Lost by the job = input the broker holds that was never routed;
    lost by the broker = writes it acknowledged to the producer but does not hold.
    """
    runs = []
    for run in tqdm(range(opts.runs), desc="broker restarts", unit="run"):
        data_dir = Path(tempfile.mkdtemp(prefix="chaos-broker-"))
        port = free_port()
        broker = EmbeddedBroker(port=port, data_dir=data_dir).start()
        settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        topic, prefix = _topics(settings, f"chaosbroker{run}", opts.partitions)
        group = f"chaosbroker{run}-job"
        producer = RateProducer(settings, topic, opts.rate, seed=opts.seed + run).start()
        job = JobProcess(
            settings,
            topic,
            prefix,
            group,
            opts.model,
            # longer than any restart: an outage counts as idle time (empty polls), and a
            # partition that ends during one never reads what is produced after it
            (*opts.job_args, "--stop-after-idle", "45"),
            log_path=opts.log_dir / f"broker-job-{run}.log",
        )
        job.start()
        try:
            _wait_for_output(settings, prefix, topic)
            time.sleep(opts.restart_after)
            broker.stop()
            time.sleep(opts.down_for)
            broker = EmbeddedBroker(port=port, data_dir=data_dir).start()
            time.sleep(opts.restart_after)
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
        "rate": opts.rate,
        "job_args": opts.job_args,
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
