"""Offset arithmetic for the Kafka source: where a partition's restriction starts and stops.

Kept free of Beam so it can be unit-tested on its own.
"""

from __future__ import annotations

import sys
import time

from kafka import KafkaConsumer, TopicPartition

OFFSET_RESETS = ("earliest", "latest")
# Stop offset of an unbounded restriction (Java's KafkaIO uses Long.MAX_VALUE the same way).
UNBOUNDED_STOP = sys.maxsize


def resolve_start_offset(
    committed: int | None, earliest: int, high_watermark: int, offset_reset: str
) -> int:
    """The offset to start reading at: the group's committed offset when it is still valid,
    else ``earliest``/``latest`` by ``offset_reset`` (like Kafka's auto.offset.reset)."""
    if offset_reset not in OFFSET_RESETS:
        raise ValueError(f"offset_reset must be one of {OFFSET_RESETS}, got {offset_reset!r}")
    if committed is not None and earliest <= committed <= high_watermark:
        return committed
    return earliest if offset_reset == "earliest" else high_watermark


def restriction_bounds(
    committed: int | None, earliest: int, high_watermark: int, offset_reset: str, bounded: bool
) -> tuple[int, int]:
    """(start, stop) offsets of a partition's initial restriction.

    Bounded reads stop at the high watermark seen at start; unbounded ones never stop.
    """
    start = resolve_start_offset(committed, earliest, high_watermark, offset_reset)
    return start, (high_watermark if bounded else UNBOUNDED_STOP)


def probe_high_watermark(
    consumer: KafkaConsumer, tp: TopicPartition, timeout_s: float = 10.0
) -> tuple[int, int]:
    """(earliest offset, high watermark) of ``tp``, read from a real fetch.

    ListOffsets(latest) is not trusted: Tansu answers with the last batch's base offset + 1.
    Fetching from just below that offset returns the partition's true high watermark (on any
    broker). ``consumer`` is (re)assigned to ``tp`` alone and left positioned wherever the fetch
    ended: seek before reading.
    """
    consumer.unsubscribe()  # fresh partition state: no high watermark from earlier fetches
    consumer.assign([tp])
    earliest = consumer.beginning_offsets([tp])[tp]
    reported_end = consumer.end_offsets([tp])[tp]
    if reported_end <= earliest:
        return earliest, earliest  # empty partition
    consumer.seek(tp, reported_end - 1)
    deadline = time.monotonic() + timeout_s
    while consumer.highwater(tp) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no fetch answer for {tp.topic}[{tp.partition}] in {timeout_s} s")
        consumer.poll(timeout_ms=100, max_records=1)
    return earliest, max(consumer.highwater(tp), reported_end)


def read_from_beginning(
    consumer: KafkaConsumer, parts: list[TopicPartition], timeout_s: float = 60.0
) -> list:
    """Every record of ``parts`` from the earliest offset up to each partition's true high
    watermark (:func:`probe_high_watermark`; a reader bounded by ListOffsets(latest) misses the
    tail of a Tansu partition). ``consumer`` is left assigned to ``parts``."""
    ends = {tp: probe_high_watermark(consumer, tp)[1] for tp in parts}
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    records: list = []
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        if time.monotonic() > deadline:
            raise TimeoutError(f"records up to {ends} not all readable in {timeout_s} s")
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    return records
