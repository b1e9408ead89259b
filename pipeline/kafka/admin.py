"""Topic helpers: how many partitions a topic has, creating the topics a job needs, reading one."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from models.errors import TriageError
from pipeline.kafka.clients import connect
from pipeline.kafka.config import KafkaSettings


def partition_count(settings: KafkaSettings, topic: str) -> int | None:
    """Number of partitions of ``topic``, or None when the topic does not exist."""
    consumer = connect(KafkaConsumer, settings, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    return len(partitions) if partitions else None


def ensure_topics(
    settings: KafkaSettings,
    topics: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_s: float = 10.0,
) -> list[str]:
    """Create the topics that do not exist yet (and wait until they are visible).

    Returns the names this call created.
    """
    wanted = list(dict.fromkeys(topics))
    if partitions < 1:
        raise TriageError(f"partitions must be >= 1, got {partitions}")
    admin = connect(KafkaAdminClient, settings)
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for topic in (t for t in wanted if t not in existing):
            try:
                admin.create_topics([NewTopic(topic, partitions, replication_factor)])
                created.append(topic)
            except TopicAlreadyExistsError:  # created concurrently by someone else
                pass
            except KafkaError as exc:
                raise TriageError(f"cannot create Kafka topic {topic!r}: {exc}") from exc
    finally:
        admin.close()
    _wait_until_visible(settings, wanted, timeout_s)
    return created


def _wait_until_visible(settings: KafkaSettings, topics: list[str], timeout_s: float) -> None:
    """Block until every topic has partitions in cluster metadata (creation is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    pending = list(topics)
    while pending:
        pending = [t for t in pending if partition_count(settings, t) is None]
        if pending and time.monotonic() > deadline:
            raise TriageError(f"Kafka topics not visible after {timeout_s:.0f} s: {pending}")
        if pending:
            time.sleep(0.05)


def read_topic(settings: KafkaSettings, topic: str, timeout_s: float = 60.0) -> list:
    """Every record of ``topic`` from the earliest offset to its high watermark (a bounded
    read; an absent topic → TriageError)."""
    from kafka import TopicPartition

    from pipeline.kafka.offsets import read_from_beginning

    partitions = partition_count(settings, topic)
    if partitions is None:
        raise TriageError(f"topic {topic!r} does not exist on {settings.bootstrap_servers}")
    consumer = connect(KafkaConsumer, settings, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        return read_from_beginning(consumer, parts, timeout_s)
    finally:
        consumer.close()
