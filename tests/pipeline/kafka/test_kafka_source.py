"""ReadFromKafka against a real Tansu broker, run on Beam's FnApiRunner."""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaProducer

from models.errors import TriageError
from pipeline import metrics
from pipeline.kafka import KafkaSettings, ReadFromKafka, ensure_topics

pytestmark = pytest.mark.integration

PARTITIONS = 3


def new_topic(settings: KafkaSettings, partitions: int = PARTITIONS) -> str:
    topic = f"src-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [topic], partitions)
    return topic


def produce(settings: KafkaSettings, topic: str, values: list[bytes]) -> None:
    """kafka-python producer, round-robin over partitions, several records per batch."""
    producer = KafkaProducer(**settings.kafka_python_kwargs(), linger_ms=20)
    for i, value in enumerate(values):
        producer.send(topic, value=value, key=b"k%d" % i, partition=i % PARTITIONS)
    producer.flush()
    producer.close()


def run(transform: beam.PTransform, check=None, streaming: bool = False) -> None:
    args = ["--runner=FnApiRunner"] + (["--streaming"] if streaming else [])
    with beam.Pipeline(options=PipelineOptions(args)) as pipeline:
        records = pipeline | transform
        if check is not None:
            check(records)


def committed(settings: KafkaSettings, topic: str, group: str) -> dict[int, int]:
    """The group's committed offsets, read with confluent-kafka (an independent client)."""
    consumer = Consumer({**settings.confluent_config(), "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def coordinates(records):
    return records | beam.Map(lambda r: (r.partition, r.offset, r.value))


def test_bounded_read_delivers_every_offset_exactly_once(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    values = [b"post-%d" % i for i in range(300)]
    produce(kafka_settings, topic, values)
    expected = [(i % PARTITIONS, i // PARTITIONS, v) for i, v in enumerate(values)]
    consumed_before = metrics.POSTS_CONSUMED.labels(topic, "0")._value.get()

    def check(records):
        assert_that(coordinates(records), equal_to(expected))  # a duplicate would fail too
        # Element timestamps are the Kafka record timestamps.
        assert_that(
            records
            | beam.Map(lambda r, ts=beam.DoFn.TimestampParam: ts.micros == r.timestamp_ms * 1000)
            | beam.Distinct(),
            equal_to([True]),
            label="timestamps",
        )

    run(ReadFromKafka(kafka_settings, topic, "g-exact", bounded=True, poll_timeout_ms=50), check)
    assert metrics.POSTS_CONSUMED.labels(topic, "0")._value.get() - consumed_before == 100
    assert metrics.CONSUMER_LAG.labels(topic, "1")._value.get() == 0


def test_many_checkpoints_still_deliver_each_offset_once(kafka_settings) -> None:
    """Small polls and a checkpoint after every poll: many bundles, resumes and commits."""
    topic = new_topic(kafka_settings)
    values = [b"c%d" % i for i in range(120)]
    produce(kafka_settings, topic, values)
    expected = [(i % PARTITIONS, i // PARTITIONS, v) for i, v in enumerate(values)]
    read = ReadFromKafka(
        kafka_settings,
        topic,
        "g-checkpoints",
        bounded=True,
        max_records_per_poll=7,
        max_read_s=0.0,
        poll_timeout_ms=50,
    )
    run(read, lambda records: assert_that(coordinates(records), equal_to(expected)))
    assert committed(kafka_settings, topic, "g-checkpoints") == {0: 40, 1: 40, 2: 40}


def test_offsets_are_committed_so_the_next_run_reads_only_new_messages(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    produce(kafka_settings, topic, [b"a%d" % i for i in range(30)])

    def read() -> ReadFromKafka:
        return ReadFromKafka(kafka_settings, topic, "g-commit", bounded=True, poll_timeout_ms=50)

    count = beam.combiners.Count.Globally()
    run(read(), lambda records: assert_that(records | count, equal_to([30])))
    assert committed(kafka_settings, topic, "g-commit") == {0: 10, 1: 10, 2: 10}

    run(read(), lambda records: assert_that(coordinates(records), equal_to([])))

    produce(kafka_settings, topic, [b"b%d" % i for i in range(6)])
    expected = [(i % PARTITIONS, 10 + i // PARTITIONS, b"b%d" % i) for i in range(6)]
    run(read(), lambda records: assert_that(coordinates(records), equal_to(expected)))
    assert committed(kafka_settings, topic, "g-commit") == {0: 12, 1: 12, 2: 12}


def test_latest_reset_skips_existing_messages(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    produce(kafka_settings, topic, [b"old"] * 9)
    read = ReadFromKafka(
        kafka_settings, topic, "g-latest", offset_reset="latest", bounded=True, poll_timeout_ms=50
    )
    run(read, lambda records: assert_that(records, equal_to([])))


def test_reads_messages_from_a_confluent_kafka_producer(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    producer = Producer(kafka_settings.confluent_config())
    for i in range(20):
        producer.produce(
            topic, key=b"id-%d" % i, value=b'{"n": %d}' % i, headers=[("src", b"peer")]
        )
    assert producer.flush(10) == 0
    expected = [(b"id-%d" % i, b'{"n": %d}' % i, (("src", b"peer"),)) for i in range(20)]
    read = ReadFromKafka(kafka_settings, topic, "g-peer", bounded=True, poll_timeout_ms=50)
    run(
        read,
        lambda records: assert_that(
            records | beam.Map(lambda r: (r.key, r.value, r.headers)), equal_to(expected)
        ),
    )


ARRIVALS: list[tuple[float, float]] = []  # (record time, time seen downstream)


class RecordArrival(beam.DoFn):
    def process(self, record) -> None:
        ARRIVALS.append((record.timestamp_ms / 1000, time.time()))


def test_unbounded_read_emits_in_near_real_time(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    ARRIVALS.clear()

    def trickle() -> None:
        producer = KafkaProducer(**kafka_settings.kafka_python_kwargs(), linger_ms=0)
        time.sleep(1.5)  # let the pipeline start and go idle first
        for i in range(30):
            producer.send(topic, value=b"live-%d" % i, partition=i % PARTITIONS)
            producer.flush()
            time.sleep(0.03)
        producer.close()

    writer = threading.Thread(target=trickle)
    writer.start()
    read = ReadFromKafka(kafka_settings, topic, "g-live", stop_after_idle_s=2.0)
    started = time.monotonic()
    run(read | beam.ParDo(RecordArrival()), streaming=True)
    writer.join()
    assert len(ARRIVALS) == 30
    latencies = [seen - sent for sent, seen in ARRIVALS]
    assert statistics.median(latencies) < 0.5, latencies
    assert time.monotonic() - started < 20  # ended by itself after 2 s without records


def test_missing_topic_is_a_user_error(kafka_settings) -> None:
    with pytest.raises(TriageError, match="does not exist"):
        run(ReadFromKafka(kafka_settings, "no-such-topic-x", "g", bounded=True))


class FailOn(beam.DoFn):
    """Fails the bundle holding one given record (a crash downstream of the source)."""

    def __init__(self, partition: int, offset: int) -> None:
        self._at = (partition, offset)

    def process(self, record):
        if (record.partition, record.offset) == self._at:
            raise RuntimeError("downstream failure")
        yield record


def test_failed_bundle_is_not_committed_and_is_read_again(kafka_settings) -> None:
    topic = new_topic(kafka_settings)
    produce(kafka_settings, topic, [b"m%d" % i for i in range(30)])

    def read() -> ReadFromKafka:
        return ReadFromKafka(kafka_settings, topic, "g-fail", bounded=True, poll_timeout_ms=50)

    with pytest.raises(Exception, match="downstream failure"):
        run(read() | beam.ParDo(FailOn(1, 5)))
    assert committed(kafka_settings, topic, "g-fail").get(1, 0) <= 5  # never past the failure
    # At-least-once: the next run delivers the record whose bundle failed.
    run(
        read(),
        lambda records: assert_that(
            records
            | beam.Filter(lambda r: r.partition == 1 and r.offset == 5)
            | beam.Map(lambda r: r.value),
            equal_to([b"m16"]),
        ),
    )


def test_read_from_beginning_reaches_the_true_end_of_a_batched_partition(kafka_settings) -> None:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition

    from pipeline.kafka.offsets import read_from_beginning

    topic = new_topic(kafka_settings, partitions=1)
    producer = KafkaProducer(**kafka_settings.kafka_python_kwargs(), linger_ms=50)
    for i in range(500):  # many records per batch: Tansu's ListOffsets(latest) lags behind
        producer.send(topic, value=b"post-%d" % i, partition=0)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(**kafka_settings.kafka_python_kwargs(), enable_auto_commit=False)
    try:
        records = read_from_beginning(consumer, [KafkaTopicPartition(topic, 0)])
    finally:
        consumer.close()
    assert [r.value for r in records] == [b"post-%d" % i for i in range(500)]
