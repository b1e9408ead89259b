"""Topic helpers and connection errors, against a real Tansu broker."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer

from pipeline.broker import free_port
from pipeline.kafka import KafkaSettings, ensure_topics, partition_count
from pipeline.kafka.clients import KafkaUnavailableError, connect

pytestmark = pytest.mark.integration


def test_ensure_topics_creates_only_missing_ones(kafka_settings) -> None:
    suffix = uuid.uuid4().hex[:8]
    first, second = f"adm-a-{suffix}", f"adm-b-{suffix}"
    assert partition_count(kafka_settings, first) is None
    assert ensure_topics(kafka_settings, [first], partitions=3) == [first]
    assert ensure_topics(kafka_settings, [first, second], partitions=2) == [second]
    assert partition_count(kafka_settings, first) == 3  # existing topic left as it was
    assert partition_count(kafka_settings, second) == 2


def test_unreachable_broker_is_one_readable_error() -> None:
    settings = KafkaSettings(f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError, match="cannot reach Kafka"):
        connect(KafkaConsumer, settings, bootstrap_timeout_ms=300)
    assert time.monotonic() - started < 5
