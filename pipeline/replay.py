"""Produce posts to a Kafka topic at a steady rate (for `triage replay`, the demo, benchmarks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.kafka.config import KafkaSettings


@dataclass(frozen=True)
class ReplayStats:
    sent: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def replay_posts(
    settings: KafkaSettings,
    topic: str,
    posts: Iterable[dict[str, Any]],
    *,
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReplayStats:
    """Send each post as one JSON message keyed by its id; ``rate`` posts/s (None = as fast as
    possible). ``on_sent(n)`` is called after each batch of n sends; ``should_stop()`` ends early.
    """
    from kafka import KafkaProducer

    from pipeline.kafka.clients import connect, durable_producer_config

    producer = connect(KafkaProducer, settings, linger_ms=5, **durable_producer_config())
    start = time.monotonic()
    sent = 0
    pending = 0
    try:
        for post in posts:
            if should_stop is not None and should_stop():
                break
            if rate:
                delay = start + sent / rate - time.monotonic()
                if delay > 0:
                    if on_sent is not None and pending:
                        on_sent(pending)
                        pending = 0
                    time.sleep(delay)
            key = str(post.get("id", "")).encode("utf-8") or None
            producer.send(topic, key=key, value=json.dumps(post, ensure_ascii=False).encode())
            sent += 1
            pending += 1
            if pending >= 500 and on_sent is not None:
                on_sent(pending)
                pending = 0
        producer.flush()
        if on_sent is not None and pending:
            on_sent(pending)
    finally:
        producer.close()
    return ReplayStats(sent=sent, seconds=time.monotonic() - start)
