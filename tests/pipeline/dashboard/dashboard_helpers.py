"""Helpers for the dashboard tests: routed messages in the job's exact shape, and a handle on
a running dashboard (imported by conftest and the test modules)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline.contract import Post, utc_now_iso
from pipeline.enrich import enrich
from pipeline.kafka.config import KafkaSettings
from pipeline.near_duplicates import ClusterRef
from pipeline.routing import choose_route, routed_message

MODEL = {"name": "tiny-test", "version": "0.0.1"}


def make_routed(
    post_id: str,
    text: str,
    label: str,
    confidence: float = 0.9,
    *,
    event: str | None = "hurricane_maria_2017",
    geo: dict[str, Any] | None = None,
    threshold: float = 0.5,
    cluster: tuple[str, int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(route, value) exactly as the job builds a routed message (pipeline.routing);
    ``cluster`` = (cluster_id, cluster_size) as the near-duplicate stage gives them."""
    fields: dict[str, Any] = {"id": post_id, "text": text, "created_at": "2017-09-25T12:00:00Z"}
    if event:
        fields["event"] = event
    if geo:
        fields["geo"] = geo
    rest = (1.0 - confidence) / 3
    probabilities = {
        name: (confidence if name == label else rest)
        for name in ("request", "offer", "emotional_support", "other")
    }
    route = choose_route(label, probabilities, {label: threshold})
    post = Post(fields, "crisis.posts", 0, 0, int(time.time() * 1000), utc_now_iso())
    classification = {"label": label, "probabilities": probabilities, "model": MODEL}
    ref = ClusterRef(*cluster) if cluster else None
    enrichment = enrich(fields)
    return route, routed_message(
        post, classification, route, utc_now_iso(), enrichment, cluster=ref
    )


class RunningDashboard:
    """A dashboard started on the test broker, with a producer into its routed topics."""

    def __init__(self, settings: KafkaSettings, prefix: str, **options: Any):
        from kafka import KafkaProducer

        from pipeline.dashboard import start_dashboard

        options.setdefault("metrics_url", None)
        self.url, self._stop = start_dashboard(settings, prefix, 0, None, **options)
        parts = urlsplit(self.url)
        self.token = parse_qs(parts.query)["token"][0]
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.prefix = prefix
        self.kafka_kwargs = settings.kafka_python_kwargs()
        self._producer = KafkaProducer(**self.kafka_kwargs, acks="all")

    def produce(self, *messages: tuple[str, dict[str, Any]], timestamp_ms: int | None = None):
        """Write (route, value) pairs to ``<prefix>.<route>``, key = post id."""
        for route, value in messages:
            self._producer.send(
                f"{self.prefix}.{route}",
                key=value["id"].encode(),
                value=json.dumps(value).encode(),
                timestamp_ms=timestamp_ms,
            )
        self._producer.flush()

    def stop(self) -> None:
        self._producer.close()
        self._stop()

    def feedback(self, timeout_s: float = 10.0, expect: int = 1) -> list[dict[str, Any]]:
        """Read ``<prefix>.feedback`` from the beginning until ``expect`` messages arrived."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(**self.kafka_kwargs, enable_auto_commit=False)
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline and len(messages) < expect:
                partitions = consumer.partitions_for_topic(f"{self.prefix}.feedback")
                if not partitions:
                    time.sleep(0.2)
                    continue
                tps = [TopicPartition(f"{self.prefix}.feedback", p) for p in partitions]
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
                messages = []
                for batch in consumer.poll(timeout_ms=500).values():
                    messages.extend(json.loads(r.value) for r in batch)
        finally:
            consumer.close()
        return messages
