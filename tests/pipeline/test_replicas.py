"""Two job replicas share a 4-partition topic; one is SIGKILLed and restarted; nothing is lost.

Replica I of N owns the partitions p with p mod N = I. What each replica really read is taken
from its own Prometheus endpoint (``triage_posts_consumed_total{partition}``), scraped while it
runs; what was routed is read back from the output topics.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from models.errors import TriageError
from pipeline.broker import free_port
from pipeline.chaos.processes import JobProcess
from pipeline.demo_data import generate_posts
from pipeline.kafka import ensure_topics
from pipeline.kafka.replicas import owned_partitions
from pipeline.routing import output_topics
from pipeline.watch import OutputWatcher

TOPIC, PREFIX, GROUP = "replicas.posts", "replicas", "replicas-job"
PARTITIONS, REPLICAS = 4, 2
N_POSTS = 2_000


def test_owned_partitions_split_a_topic_without_overlap() -> None:
    shares = [owned_partitions(10, 3, i) for i in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert owned_partitions(4) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("partitions", "replicas", "replica", "needle"),
    [(4, 2, 2, "0..1"), (4, 2, -1, "0..1"), (2, 3, 2, "at most 2 replicas")],
)
def test_owned_partitions_errors(partitions, replicas, replica, needle) -> None:
    with pytest.raises(TriageError, match=needle):
        owned_partitions(partitions, replicas, replica)


def test_replica_flag_out_of_range_is_one_line(capsys) -> None:
    from pipeline.cli import main

    code = main(
        ["run", "--bootstrap-servers", "127.0.0.1:1", "--input-topic", "t", "--output-prefix"]
        + ["p", "--group-id", "g", "--replicas", "2", "--replica", "2"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "triage run: error: --replica 2 is out of range for --replicas 2 (use 0..1)"


class ConsumedScraper:
    """Scrapes each replica's /metrics; remembers which partitions each one has read."""

    def __init__(self) -> None:
        self.ports: dict[int, int] = {}  # replica → metrics port of its current process
        self.partitions: dict[int, set[int]] = defaultdict(set)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ConsumedScraper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def scrape_now(self) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        for replica, port in list(self.ports.items()):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                    text = r.read().decode()
            except OSError:
                continue  # not serving yet, or just killed
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if (
                        sample.name == "triage_posts_consumed_total"
                        and sample.labels.get("topic") == TOPIC
                        and sample.value > 0
                    ):
                        self.partitions[replica].add(int(sample.labels["partition"]))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scrape_now()
            time.sleep(0.2)


def _committed(consumer) -> dict[int, int]:
    from kafka import TopicPartition

    return {p: consumer.committed(TopicPartition(TOPIC, p)) or 0 for p in range(PARTITIONS)}


def _replica(kafka_settings, model: Path, index: int, port: int, log: Path) -> JobProcess:
    extra = (
        "--replicas", str(REPLICAS), "--replica", str(index), "--metrics-port", str(port),
        "--max-records-per-poll", "100", "--stop-after-idle", "3",
    )  # fmt: skip
    return JobProcess(kafka_settings, TOPIC, PREFIX, GROUP, model, extra, log_path=log)


@pytest.mark.integration
@pytest.mark.slow
def test_two_replicas_sigkill_one_restart_loses_nothing(
    kafka_settings, tiny_model: Path, tmp_path: Path
) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    ensure_topics(kafka_settings, [TOPIC], partitions=PARTITIONS)
    ensure_topics(kafka_settings, output_topics(PREFIX), partitions=PARTITIONS)
    producer = KafkaProducer(**kafka_settings.kafka_python_kwargs(), linger_ms=5)
    futures = [
        producer.send(TOPIC, key=p["id"].encode(), value=json.dumps(p).encode())
        for p in generate_posts(N_POSTS, seed=16)
    ]
    futures.append(producer.send(TOPIC, value=b"{not json", partition=1))  # one dead letter
    producer.flush()
    produced = {(f.get().partition, f.get().offset) for f in futures}
    producer.close()
    assert {p for p, _ in produced} == set(range(PARTITIONS))

    watcher = OutputWatcher(kafka_settings, PREFIX, TOPIC).start()
    scraper = ConsumedScraper().start()
    group = KafkaConsumer(
        **kafka_settings.kafka_python_kwargs(), group_id=GROUP, enable_auto_commit=False
    )
    victim_parts = owned_partitions(PARTITIONS, REPLICAS, 0)  # [0, 2]
    survivor_parts = owned_partitions(PARTITIONS, REPLICAS, 1)  # [1, 3]
    jobs: list[JobProcess] = []
    try:
        for index in range(REPLICAS):
            scraper.ports[index] = free_port()
            log = tmp_path / f"replica{index}.log"
            jobs.append(_replica(kafka_settings, tiny_model, index, scraper.ports[index], log))
            jobs[-1].start()
        victim, survivor = jobs
        deadline = time.monotonic() + 120
        # Kill replica 0 once it has committed some of its partitions' offsets: mid-stream.
        while sum(_committed(group)[p] for p in victim_parts) == 0:
            assert victim.alive(), victim.wait(5)[1]
            assert time.monotonic() < deadline, "replica 0 committed nothing in 120 s"
            time.sleep(0.05)
        scraper.scrape_now()
        victim.kill()  # SIGKILL: no finish_bundle, no commit
        at_kill = _committed(group)
        time.sleep(2.0)  # replica 1 keeps going; replica 0's partitions must wait for it
        while_dead = _committed(group)
        assert [while_dead[p] for p in victim_parts] == [at_kill[p] for p in victim_parts]
        first_run = watcher.snapshot()
        assert first_run.total < len(produced), "everything was routed before the kill"

        scraper.ports[0] = free_port()
        victim.start("--metrics-port", str(scraper.ports[0]))  # same replica index
        for job in jobs:
            code, output = job.wait(timeout_s=180)
            assert code == 0, output
        seen = watcher.wait_for(len(produced), timeout_s=30)
    finally:
        for job in jobs:
            if job.alive():
                job.kill()
        scraper.stop()
        watcher.stop()
        group.close()

    offsets = set(seen.input_offsets)
    assert offsets == produced, f"lost {len(produced - offsets)} input offsets"
    assert seen.reasons == {"invalid_json": 1}
    # Each partition was read by its owner only, and every partition was read.
    assert scraper.partitions[0] <= set(victim_parts), scraper.partitions
    assert scraper.partitions[1] <= set(survivor_parts), scraper.partitions
    assert scraper.partitions[0] | scraper.partitions[1] == set(range(PARTITIONS))
    # Only the killed replica's uncommitted tail can come out twice; the survivor's never.
    duplicates = {origin for origin, n in seen.input_offsets.items() if n > 1}
    assert all(p in victim_parts and o >= at_kill[p] for p, o in duplicates), (duplicates, at_kill)
    print(f"committed at the kill {at_kill}, {seen.duplicates} duplicates, {seen.total} routed")
