"""WriteToKafka against a real Tansu broker, checked with confluent-kafka (another client)."""

from __future__ import annotations

import uuid

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from confluent_kafka import Consumer, TopicPartition

from pipeline.kafka import KafkaMessage, WriteToKafka, ensure_topics

pytestmark = pytest.mark.integration


def consume_all(settings, topics: list[str], expected: int, timeout_s: float = 10.0) -> list:
    consumer = Consumer(
        {
            **settings.confluent_config(),
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(t, 0, 0) for t in topics])
    messages = []
    try:
        for _ in range(int(timeout_s / 0.2)):
            if len(messages) >= expected:
                break
            messages += [m for m in consumer.consume(100, 0.2) if m.error() is None]
    finally:
        consumer.close()
    return messages


def test_messages_written_by_beam_are_read_by_confluent_kafka(kafka_settings) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = [f"sink-a-{suffix}", f"sink-b-{suffix}"]
    ensure_topics(kafka_settings, topics, partitions=1)
    messages = [
        KafkaMessage(
            topic=topics[i % 2],
            key=b"id-%d" % i,
            value=b'{"n": %d}' % i,
            headers=(("route", topics[i % 2].encode()),),
        )
        for i in range(40)
    ]
    options = PipelineOptions(["--runner=FnApiRunner"])
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | beam.Create(messages) | WriteToKafka(kafka_settings)

    received = consume_all(kafka_settings, topics, expected=40)
    got = sorted((m.topic(), m.key(), m.value(), tuple(m.headers() or ())) for m in received)
    want = sorted((m.topic, m.key, m.value, m.headers) for m in messages)
    assert got == want
