"""Watch the job's output topics: counts per route and label, latencies, input offsets seen.

Used by `triage demo` (live progress), the end-to-end benchmark and the integration tests: it
reads what the job really wrote, so it measures the whole path Kafka → Beam → ONNX → Kafka.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from pipeline.kafka.config import KafkaSettings
from pipeline.routing import DLQ, output_topics


@dataclass
class Seen:
    """What the watcher has read so far (guarded by the watcher's lock)."""

    routes: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    input_offsets: Counter = field(default_factory=Counter)  # (partition, offset) → times seen
    reason_of: dict = field(default_factory=dict)  # (partition, offset) → dead-letter reason
    non_strict: int = 0  # messages that strict JSON parsers reject (NaN, Infinity)
    examples: dict[str, str] = field(default_factory=dict)  # route → one text
    first_ms: int | None = None
    last_ms: int | None = None
    versions: dict = field(default_factory=dict)  # (partition, offset) → model version
    languages: Counter = field(default_factory=Counter)  # routed posts by `lang`
    clusters: Counter = field(default_factory=Counter)  # cluster_id → routed copies

    @property
    def total(self) -> int:
        return sum(self.routes.values())

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.input_offsets.values() if n > 1)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class OutputWatcher:
    """A background consumer of every ``<prefix>.<route>`` topic, from the beginning."""

    def __init__(self, settings: KafkaSettings, prefix: str, input_topic: str | None = None):
        self._settings = settings
        self._prefix = prefix
        self._input_topic = input_topic
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen = Seen()
        self._thread = threading.Thread(target=self._run, name="output-watcher", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> OutputWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def snapshot(self) -> Seen:
        """A copy of the counters so far."""
        with self._lock:
            s = self._seen
            return Seen(
                Counter(s.routes),
                Counter(s.labels),
                Counter(s.reasons),
                list(s.latencies_s),
                Counter(s.input_offsets),
                dict(s.reason_of),
                s.non_strict,
                dict(s.examples),
                s.first_ms,
                s.last_ms,
                dict(s.versions),
                Counter(s.languages),
                Counter(s.clusters),
            )

    def wait_for(self, total: int, timeout_s: float) -> Seen:
        """Block until ``total`` messages were seen (or the timeout); return a snapshot."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.snapshot().total < total:
            if self.error is not None:
                raise self.error
            time.sleep(0.1)
        return self.snapshot()

    def _run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        from pipeline.kafka.clients import connect

        try:
            consumer = connect(KafkaConsumer, self._settings, enable_auto_commit=False)
            try:
                parts = []
                for topic in output_topics(self._prefix):
                    for p in consumer.partitions_for_topic(topic) or ():
                        parts.append(TopicPartition(topic, p))
                consumer.assign(parts)
                consumer.seek_to_beginning(*parts)
                while not self._stop.is_set():
                    batches = consumer.poll(timeout_ms=100, max_records=2000)
                    for records in batches.values():
                        self._add(records)
            finally:
                consumer.close()
        except BaseException as exc:  # surfaced to the caller by wait_for()
            self.error = exc

    def _add(self, records: list) -> None:
        with self._lock:
            seen = self._seen
            for record in records:
                route = record.topic[len(self._prefix) + 1 :]
                try:
                    value = json.loads(record.value, parse_constant=_reject_constant)
                except ValueError:
                    seen.non_strict += 1
                    value = json.loads(record.value)
                kafka = value.get("kafka") or {}
                origin = (kafka.get("partition"), kafka.get("offset"))
                from_input = self._input_topic is None or kafka.get("topic") == self._input_topic
                if from_input:
                    seen.input_offsets[origin] += 1
                seen.routes[route] += 1
                if route == DLQ:
                    seen.reasons[value.get("reason")] += 1
                    if from_input:
                        seen.reason_of[origin] = value.get("reason")
                else:
                    classification = value["classification"]
                    seen.labels[classification["label"]] += 1
                    if from_input:
                        seen.versions[origin] = (classification.get("model") or {}).get("version")
                    seen.languages[value.get("lang") or "und"] += 1
                    if value.get("cluster_id"):
                        seen.clusters[value["cluster_id"]] += 1
                    seen.examples.setdefault(route, value.get("text", ""))
                sent_ms = kafka.get("timestamp_ms")
                if sent_ms is not None:
                    seen.latencies_s.append((record.timestamp - sent_ms) / 1000.0)
                seen.first_ms = min(seen.first_ms or record.timestamp, record.timestamp)
                seen.last_ms = max(seen.last_ms or record.timestamp, record.timestamp)
