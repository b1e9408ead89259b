"""Crash safety: SIGKILL a streaming `triage run` mid-stream, restart it, lose nothing.

At-least-once: offsets are committed only after the routed messages are acknowledged, so after
a crash every input offset still reaches a routed or dead-letter topic; the only duplicates are
posts past the group's committed offset at the moment of the kill (the uncommitted batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.demo_data import generate_posts
from pipeline.kafka import ensure_topics
from pipeline.routing import output_topics
from pipeline.watch import OutputWatcher

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPIC, PREFIX, GROUP = "restart.posts", "restart", "restart-job"
N_POSTS = 10_000


def _start_job(kafka_settings, model: Path, *extra: str) -> subprocess.Popen:
    argv = [
        sys.executable, "-m", "pipeline.cli", "run",
        "--bootstrap-servers", kafka_settings.bootstrap_servers,
        "--input-topic", TOPIC,
        "--output-prefix", PREFIX,
        "--group-id", GROUP,
        "--model", str(model),
        "--max-records-per-poll", "100",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _committed(consumer, partitions: int) -> dict[int, int]:
    """The group's committed offsets (0 where none yet)."""
    from kafka import TopicPartition

    return {p: consumer.committed(TopicPartition(TOPIC, p)) or 0 for p in range(partitions)}


def test_sigkill_and_restart_loses_nothing(kafka_settings, tiny_model: Path) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    ensure_topics(kafka_settings, [TOPIC], partitions=2)
    ensure_topics(kafka_settings, output_topics(PREFIX), partitions=2)
    producer = KafkaProducer(**kafka_settings.kafka_python_kwargs(), linger_ms=5)
    futures = [
        producer.send(TOPIC, key=p["id"].encode(), value=json.dumps(p).encode())
        for p in generate_posts(N_POSTS, seed=5)
    ]
    futures.append(producer.send(TOPIC, value=b"\xffnot utf-8"))  # one dead letter too
    producer.flush()
    produced = {(f.get().partition, f.get().offset) for f in futures}
    producer.close()

    watcher = OutputWatcher(kafka_settings, PREFIX, TOPIC).start()
    group = KafkaConsumer(
        **kafka_settings.kafka_python_kwargs(), group_id=GROUP, enable_auto_commit=False
    )
    try:
        job = _start_job(kafka_settings, tiny_model)
        deadline = time.monotonic() + 90
        # Kill once the job has committed some offsets: mid-stream, with a committed prefix.
        while sum(_committed(group, 2).values()) == 0:
            assert job.poll() is None, job.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the job committed nothing in 90 s"
            time.sleep(0.05)
        job.kill()  # SIGKILL: no finish_bundle, no commit, no goodbye
        job.wait()
        committed = _committed(group, 2)
        time.sleep(1.0)  # let the watcher read everything the dead job managed to write
        first_run = watcher.snapshot()
        assert first_run.total < len(produced), "the job finished before it was killed"

        restarted = _start_job(kafka_settings, tiny_model, "--stop-after-idle", "3")
        output, _ = restarted.communicate(timeout=180)
        assert restarted.returncode == 0, output.decode()[-2000:]
        seen = watcher.wait_for(len(produced), timeout_s=30)
    finally:
        watcher.stop()
        group.close()

    offsets = set(seen.input_offsets)
    assert offsets == produced, f"lost {len(produced - offsets)} input offsets"
    assert seen.reasons == {"invalid_utf8": 1}
    duplicates = {k for k, n in seen.input_offsets.items() if n > 1}
    # Only posts at or past the committed offset at the kill can come out twice.
    assert all(offset >= committed[partition] for partition, offset in duplicates), committed
    uncommitted = sum(
        1 for (partition, offset) in first_run.input_offsets if offset >= committed[partition]
    )
    assert seen.duplicates == len(duplicates) <= uncommitted
    assert first_run.total - uncommitted <= sum(committed.values())
    print(f"killed at {first_run.total} routed, committed {committed}, {seen.duplicates} dups")
