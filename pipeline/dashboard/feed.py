"""The Kafka side of the dashboard: read the routed, dead-letter and feedback topics, and
write feedback.

One consumer, ``assign()``-ed to every partition of ``<prefix>.{requests,offers,review,support,
other,dlq,feedback}`` (no consumer group: nothing is committed, every dashboard sees
everything). It starts at the beginning of each partition, or at the first offset written in
the last ``since_hours``, and re-checks the topic list every few seconds so topics created after
the dashboard started (the job not running yet) are picked up. Topics are never auto-created.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from pipeline.dashboard.items import COUNT_ROUTES, FEED_ROUTES, item_from_message
from pipeline.dashboard.store import FeedStore
from pipeline.feedback import FEEDBACK_ROUTE as FEEDBACK
from pipeline.feedback import InvalidFeedback, feedback_topic, parse_feedback
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.clients import connect, durable_producer_config
from pipeline.kafka.config import KafkaSettings
from pipeline.routing import DLQ

log = logging.getLogger(__name__)

TOPIC_REFRESH_S = 3.0
POLL_TIMEOUT_MS = 250


class RoutedFeed(threading.Thread):
    """Background thread: routed messages → feed items and counts; dlq; feedback read-back."""

    def __init__(
        self,
        settings: KafkaSettings,
        prefix: str,
        store: FeedStore,
        since_hours: float | None = None,
    ):
        super().__init__(name="dashboard-feed", daemon=True)
        self.settings = settings
        self.prefix = prefix
        self.store = store
        self.since_hours = since_hours
        self._stop_event = threading.Event()
        self._routes = {f"{prefix}.{route}": route for route in COUNT_ROUTES}
        self._routes[f"{prefix}.{DLQ}"] = DLQ
        self._routes[feedback_topic(prefix)] = FEEDBACK
        self.connected = threading.Event()  # set once the consumer has metadata
        self.error: str | None = None
        self.records_read = 0

    # ---------------------------------------------------------------- lifecycle

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        consumer = None
        while not self._stop_event.is_set():
            try:
                if consumer is None:
                    consumer = connect(
                        KafkaConsumer,
                        self.settings,
                        group_id=None,
                        enable_auto_commit=False,
                        allow_auto_create_topics=False,
                        auto_offset_reset="earliest",
                    )
                self._consume(consumer)
            except Exception as exc:  # keep serving the page; retry the broker
                self.error = f"Kafka: {exc}"
                log.warning("dashboard feed: %s (retrying)", exc)
                if consumer is not None:
                    consumer.close()
                    consumer = None
                self._stop_event.wait(2.0)
        if consumer is not None:
            consumer.close()

    # ---------------------------------------------------------------- reading

    def _consume(self, consumer: KafkaConsumer) -> None:
        next_refresh = 0.0
        while not self._stop_event.is_set():
            if time.monotonic() >= next_refresh:
                self._refresh_assignment(consumer)
                next_refresh = time.monotonic() + TOPIC_REFRESH_S
            if not consumer.assignment():
                self._stop_event.wait(0.5)
                continue
            batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=1000)
            self.error = None
            for tp, records in batches.items():
                route = self._routes.get(tp.topic)
                for record in records:
                    self.records_read += 1
                    self._handle(route, record)

    def _refresh_assignment(self, consumer: KafkaConsumer) -> None:
        """Assign every partition of our topics that exists now; new ones start at the start."""
        consumer.topics()  # refresh cluster metadata (never creates topics)
        self.connected.set()
        current = set(consumer.assignment())
        wanted = set(current)
        for topic in self._routes:
            for partition in consumer.partitions_for_topic(topic) or ():
                wanted.add(TopicPartition(topic, partition))
        added = wanted - current
        if not added:
            return
        consumer.assign(sorted(wanted))  # keeps the positions of already assigned partitions
        self._seek_start(consumer, sorted(added))

    def _seek_start(self, consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
        if self.since_hours is None:
            consumer.seek_to_beginning(*partitions)
            return
        since_ms = int((time.time() - self.since_hours * 3600) * 1000)
        try:
            offsets = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        except KafkaError as exc:  # unsupported: read all; _handle drops records by time
            log.info("offsets_for_times failed (%s); reading from the beginning", exc)
            consumer.seek_to_beginning(*partitions)
            return
        for tp in partitions:
            found = offsets.get(tp)
            if found is None:  # nothing written since then
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)

    def _handle(self, route: str | None, record: Any) -> None:
        if self.since_hours is not None:
            if record.timestamp < (time.time() - self.since_hours * 3600) * 1000:
                return
        try:
            value = json.loads(record.value) if record.value is not None else None
        except (ValueError, UnicodeDecodeError):
            value = None
        if route == DLQ:
            self.store.add_dead_letter(value, record.timestamp)
            return
        if not isinstance(value, dict):
            return
        if route == FEEDBACK:
            try:
                post = parse_feedback(value)
            except InvalidFeedback:
                return
            corrected = value.get("corrected_label")
            self.store.apply_feedback(
                post.post_id,
                post.action,
                corrected if isinstance(corrected, str) else None,
                post.label,
                post.model,
            )
            return
        position = (record.topic, record.partition, record.offset)
        item = item_from_message(value, route or "", record.timestamp, position)
        if item is None:
            return
        self.store.count(item["id"], item["label"], record.timestamp, item["cluster_id"])
        if route in FEED_ROUTES:
            self.store.add_item(item)


class FeedbackWriter:
    """Writes feedback messages to ``<prefix>.feedback`` (key = post id, acks=all)."""

    def __init__(self, settings: KafkaSettings, prefix: str):
        self.settings = settings
        self.topic = feedback_topic(prefix)
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any], timeout_s: float = 10.0) -> None:
        """Write one message and wait for the broker's ack (raises KafkaError on failure)."""
        with self._lock:
            if self._producer is None:
                ensure_topics(self.settings, [self.topic], partitions=1)
                self._producer = connect(
                    KafkaProducer, self.settings, linger_ms=0, **durable_producer_config()
                )
            producer = self._producer
        value = json.dumps(message, ensure_ascii=False).encode("utf-8")
        key = message["post_id"].encode("utf-8")
        producer.send(self.topic, key=key, value=value).get(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
