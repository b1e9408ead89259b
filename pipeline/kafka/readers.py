"""Per-partition kafka-python consumers, cached per worker process.

Connecting costs tens of milliseconds, and a splittable DoFn resumes each partition many times a
second, so a ``PartitionReader`` (one consumer ``assign()``-ed to one partition, never
``subscribe()``-d: no group join, no rebalances) is created once per process and partition and
reused by every ``process()`` call. Its lock serialises use across worker threads (kafka-python
consumers are not thread-safe).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline.kafka.clients import KafkaUnavailableError, connect
from pipeline.kafka.config import KafkaSettings
from pipeline.kafka.offsets import probe_high_watermark, restriction_bounds
from pipeline.kafka.records import KafkaRecord

_LOGGER = logging.getLogger(__name__)
RECONNECT_S = 120.0
"""How long a worker keeps trying to reach a broker that went away before the job fails."""


@dataclass(frozen=True)
class ReaderKey:
    """Identifies a cached reader: same cluster, group, partition and reset policy."""

    settings: KafkaSettings
    group_id: str
    topic: str
    partition: int
    offset_reset: str
    max_records_per_poll: int
    poll_timeout_ms: int


class PartitionReader:
    """One consumer reading one topic-partition on behalf of one consumer group."""

    def __init__(self, key: ReaderKey) -> None:
        self.key = key
        self.tp = TopicPartition(key.topic, key.partition)
        self.lock = threading.RLock()
        self.consumer: KafkaConsumer = connect(
            KafkaConsumer,
            key.settings,
            group_id=key.group_id,
            client_id=f"triage-{key.group_id}-{key.topic}-{key.partition}",
            enable_auto_commit=False,
            auto_offset_reset=key.offset_reset,
            max_poll_records=key.max_records_per_poll,
            fetch_max_wait_ms=max(10, key.poll_timeout_ms),
        )
        self.consumer.assign([self.tp])
        self._position: int | None = None  # next offset poll() will return
        self._committed: int | None = None  # highest offset this reader committed
        self.last_high_watermark: int | None = None

    def initial_bounds(self, bounded: bool) -> tuple[int, int]:
        """(start, stop) of this partition's first restriction (see ``restriction_bounds``)."""
        with self.lock:
            earliest, high = probe_high_watermark(self.consumer, self.tp)
            committed = self.consumer.committed(self.tp)
            self._position = None
            self._committed = committed
            self.last_high_watermark = high
            return restriction_bounds(committed, earliest, high, self.key.offset_reset, bounded)

    def poll(self, start: int, max_records: int | None = None) -> list[KafkaRecord]:
        """Records at or after ``start`` (one fetch, up to the poll timeout, at most
        ``max_records``). Call under lock."""
        if self._position != start:
            self.consumer.seek(self.tp, start)
            self._position = start
        limit = self.key.max_records_per_poll
        if max_records is not None:
            limit = max(1, min(limit, max_records))
        batches = self.consumer.poll(timeout_ms=self.key.poll_timeout_ms, max_records=limit)
        raw = batches.get(self.tp, [])
        if raw:
            self._position = raw[-1].offset + 1
        high = self.consumer.highwater(self.tp)
        if high is not None:
            self.last_high_watermark = high
        return [KafkaRecord.from_consumer_record(r) for r in raw if r.offset >= start]

    def fetch_position(self) -> int:
        """Next offset the consumer will fetch (past control records and gaps)."""
        position = self.consumer.position(self.tp)
        self._position = position
        return position

    def commit(self, next_offset: int) -> None:
        """Commit ``next_offset`` for the group unless an equal or later one was committed."""
        with self.lock:
            if self._committed is not None and next_offset <= self._committed:
                return
            self.consumer.commit({self.tp: OffsetAndMetadata(next_offset, "", -1)})
            self._committed = next_offset

    def close(self) -> None:
        with self.lock:
            self.consumer.close(autocommit=False)


class ReaderCache:
    """Process-wide PartitionReaders, closed when the last reading DoFn in the process tears
    down (``acquire``/``release`` from DoFn setup/teardown), or at process exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[ReaderKey, PartitionReader] = {}
        self._users = 0

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            idle = self._users == 0
        if idle:
            self.close_all()

    def get(self, key: ReaderKey) -> PartitionReader:
        with self._lock:
            reader = self._readers.get(key)
            if reader is None:
                reader = self._readers[key] = _connect_with_retry(key)
            return reader

    def peek(self, key: ReaderKey) -> PartitionReader | None:
        """The cached reader for ``key`` without creating one."""
        return self._readers.get(key)

    def close_all(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            try:
                reader.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                _LOGGER.debug("closing %s failed: %s", reader.tp, exc)


def _connect_with_retry(key: ReaderKey, patience_s: float = RECONNECT_S) -> PartitionReader:
    """A new reader; a broker that is briefly away (a restart) is retried, not fatal."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return PartitionReader(key)
        except KafkaUnavailableError as exc:
            if time.monotonic() > deadline:
                raise
            _LOGGER.warning("Kafka unavailable, retrying %s[%s]: %s", key.topic, key.partition, exc)
            time.sleep(1.0)


READERS = ReaderCache()
atexit.register(READERS.close_all)
