"""ReadFromKafka: a splittable DoFn over kafka-python (no Java expansion service needed).

* Restriction: one ``OffsetRange`` per topic-partition, starting at the consumer group's
  committed offset (``offset_reset`` when there is none or it is out of range). Unbounded reads
  stop at ``UNBOUNDED_STOP``; bounded ones at the high watermark seen at start.
* Progress: every record's offset is claimed before it is emitted. Each ``process()`` call reads
  until caught up (or for at most ``max_read_s``), then checkpoints with
  ``defer_remainder``; the runner resumes the remainder in a new bundle.
* Commits: the next offset is committed to the group only in a bundle-finalization callback,
  i.e. after the runner has durably finished the bundle: at-least-once. On FnApiRunner the
  bundle includes the fused element-wise steps after the source, through WriteToKafka's flush,
  so keep the live path free of fusion breaks (GroupByKey/Reshuffle). A restarted job resumes
  from the committed offsets.
* Watermark: the newest record timestamp; when a partition is caught up it advances to the wall
  clock minus ``IDLE_WATERMARK_LAG_S`` so an idle partition does not hold event time back.
* Ends: a bounded read ends at its stop offset; ``stop_after_idle_s`` ends a partition after that
  many seconds without records (both modes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.iobase import WatermarkEstimator
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.transforms.core import RestrictionProvider, WatermarkEstimatorProvider
from apache_beam.utils.timestamp import Duration, Timestamp

from models.errors import TriageError
from pipeline import metrics
from pipeline.kafka.admin import partition_count
from pipeline.kafka.config import KafkaSettings
from pipeline.kafka.offsets import OFFSET_RESETS, UNBOUNDED_STOP
from pipeline.kafka.readers import READERS, ReaderKey
from pipeline.kafka.records import KafkaRecord
from pipeline.kafka.replicas import owned_partitions

IDLE_RESUME_DELAY = Duration(seconds=0.05)  # resume hint after an empty poll
IDLE_WATERMARK_LAG_S = 1.0  # an idle partition's watermark trails the wall clock by this much


@dataclass(frozen=True)
class ReadConfig:
    """Everything a worker needs to read one topic for one consumer group."""

    settings: KafkaSettings
    topic: str
    group_id: str
    offset_reset: str = "earliest"
    bounded: bool = False
    stop_after_idle_s: float | None = None
    max_records_per_poll: int = 500
    poll_timeout_ms: int = 100
    max_read_s: float = 0.25  # longest read before a checkpoint (bounds the commit delay)
    max_read_records: int = 100  # most records read before a checkpoint (bounds the replay)


@dataclass(frozen=True)
class PartitionSpec:
    """The source's input element: one partition of the configured topic."""

    config: ReadConfig
    partition: int

    def reader_key(self) -> ReaderKey:
        c = self.config
        return ReaderKey(
            c.settings,
            c.group_id,
            c.topic,
            self.partition,
            c.offset_reset,
            c.max_records_per_poll,
            c.poll_timeout_ms,
        )


class PartitionOffsetTracker(OffsetRestrictionTracker):
    """Offset tracker that only accepts checkpoints (splits at the current position).

    A partition must be read in order: reading a later split concurrently and committing its
    offsets before the earlier split finished could skip messages after a crash.
    """

    def try_split(self, fraction_of_remainder: float) -> Any:
        if fraction_of_remainder != 0:
            return None
        return super().try_split(0)

    def is_bounded(self) -> bool:
        return self.current_restriction().stop < UNBOUNDED_STOP


class PartitionRestrictionProvider(RestrictionProvider):
    """Initial restriction from the group's committed offset; no initial splitting."""

    def initial_restriction(self, element: PartitionSpec) -> OffsetRange:
        reader = READERS.get(element.reader_key())
        start, stop = reader.initial_bounds(element.config.bounded)
        return OffsetRange(start, stop)

    def create_tracker(self, restriction: OffsetRange) -> PartitionOffsetTracker:
        return PartitionOffsetTracker(restriction)

    def split(self, element: PartitionSpec, restriction: OffsetRange) -> Any:
        yield restriction

    def restriction_size(self, element: PartitionSpec, restriction: OffsetRange) -> int:
        """Remaining messages: exact when bounded, else the last known backlog."""
        if restriction.stop < UNBOUNDED_STOP:
            return restriction.size()
        reader = READERS.peek(element.reader_key())
        high = reader.last_high_watermark if reader is not None else None
        return max(0, high - restriction.start) if high is not None else 0


class PartitionWatermarkEstimator(WatermarkEstimator):
    """Newest record timestamp seen; moves with the wall clock while the partition is idle.

    State: (watermark, wall-clock second the partition went idle or None).
    """

    def __init__(self, state: tuple[Timestamp | None, float | None] | None) -> None:
        self._watermark, self._idle_since = state if state is not None else (None, None)

    def observe_timestamp(self, timestamp: Timestamp) -> None:
        if self._watermark is None or timestamp > self._watermark:
            self._watermark = timestamp

    def current_watermark(self) -> Timestamp | None:
        return self._watermark

    def get_estimator_state(self) -> tuple[Timestamp | None, float | None]:
        return self._watermark, self._idle_since

    def record_activity(self) -> None:
        self._idle_since = None

    def record_idle(self, caught_up: bool) -> float:
        """Note an empty poll; returns how many seconds the partition has been idle."""
        now = time.time()
        if self._idle_since is None:
            self._idle_since = now
        if caught_up:
            self.observe_timestamp(Timestamp.of(now - IDLE_WATERMARK_LAG_S))
        return now - self._idle_since


class PartitionWatermarkProvider(WatermarkEstimatorProvider):
    def initial_estimator_state(self, element: PartitionSpec, restriction: OffsetRange) -> None:
        return None

    def create_watermark_estimator(self, state: Any) -> PartitionWatermarkEstimator:
        return PartitionWatermarkEstimator(state)


# Module-level DoFn parameter singletons (Beam reads them from process()'s defaults).
_TRACKER = beam.DoFn.RestrictionParam(PartitionRestrictionProvider())
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(PartitionWatermarkProvider())
_FINALIZER = beam.DoFn.BundleFinalizerParam


def _event_time(record: KafkaRecord) -> Timestamp:
    """The record's Kafka timestamp; now for the rare record without one (-1)."""
    if record.timestamp_ms < 0:
        return Timestamp.now()
    return Timestamp(micros=record.timestamp_ms * 1000)


def _commit(spec: PartitionSpec, next_offset: int) -> None:
    READERS.get(spec.reader_key()).commit(next_offset)


class ReadPartitionFn(beam.DoFn):
    """Reads one partition's restriction; ends when it is done, else checkpoints."""

    def setup(self) -> None:
        READERS.acquire()

    def teardown(self) -> None:
        READERS.release()  # the last reader DoFn in this process closes the consumers

    def process(
        self,
        spec: PartitionSpec,
        finalizer: Any = _FINALIZER,  # must precede the tracker param
        tracker: Any = _TRACKER,
        watermark: Any = _WATERMARK,
    ) -> Any:
        yield from _read_partition(spec, finalizer, tracker, watermark)


class UnboundedReadPartitionFn(ReadPartitionFn):
    """ReadPartitionFn declared unbounded per element (a streaming source)."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        spec: PartitionSpec,
        finalizer: Any = _FINALIZER,
        tracker: Any = _TRACKER,
        watermark: Any = _WATERMARK,
    ) -> Any:
        yield from _read_partition(spec, finalizer, tracker, watermark)


def _read_partition(spec: PartitionSpec, finalizer: Any, tracker: Any, watermark: Any) -> Any:
    config = spec.config
    reader = READERS.get(spec.reader_key())
    labels = (config.topic, str(spec.partition))
    next_offset = tracker.current_restriction().start
    claimed = 0
    deadline = time.monotonic() + config.max_read_s
    while True:
        with reader.lock:
            records = reader.poll(next_offset, config.max_read_records - claimed)
            high = reader.last_high_watermark
            position = reader.fetch_position() if not records else next_offset
        done = False
        emitted = 0
        for record in records:
            if not tracker.try_claim(record.offset):
                done = True  # reached the restriction's stop (bounded end or a checkpoint)
                break
            next_offset = record.offset + 1
            emitted += 1
            yield beam.window.TimestampedValue(record, _event_time(record))
        if emitted:
            claimed += emitted
            metrics.POSTS_CONSUMED.labels(*labels).inc(emitted)
        position = max(position, next_offset)
        if high is not None:
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, high - position))
        stop = tracker.current_restriction().stop
        if done or next_offset >= stop:
            break  # the restriction is fully claimed
        caught_up = high is not None and position >= high
        if records:
            watermark.record_activity()
            in_budget = claimed < config.max_read_records and time.monotonic() < deadline
            if not caught_up and in_budget:
                continue
            tracker.defer_remainder()
            break
        idle_s = watermark.record_idle(caught_up)
        expired = config.stop_after_idle_s is not None and idle_s >= config.stop_after_idle_s
        if position >= stop or expired:
            tracker.try_claim(stop)  # claims nothing: marks the restriction as fully done
            break
        tracker.defer_remainder(IDLE_RESUME_DELAY)
        break
    if claimed:
        finalizer.register(lambda: _commit(spec, next_offset))


class ReadFromKafka(beam.PTransform):
    """PBegin → KafkaRecord (element timestamps = Kafka record timestamps).

    ``max_read_s`` / ``max_read_records``: a partition checkpoints (ends its bundle, so its
    offsets get committed once the bundle's output is acknowledged) after reading this long or
    this many records, even when it is not caught up. They bound how much a crash replays.

    ``replicas`` / ``replica``: read only the partitions ``p`` with ``p mod replicas = replica``
    (see :mod:`pipeline.kafka.replicas`).

    Example::

        records = p | ReadFromKafka(settings, "crisis.posts", "triage", bounded=True)
    """

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        group_id: str,
        *,
        offset_reset: str = "earliest",
        bounded: bool = False,
        stop_after_idle_s: float | None = None,
        max_records_per_poll: int = 500,
        poll_timeout_ms: int = 100,
        max_read_s: float = ReadConfig.max_read_s,
        max_read_records: int = ReadConfig.max_read_records,
        replicas: int = 1,
        replica: int = 0,
    ) -> None:
        super().__init__()
        self._replicas, self._replica = replicas, replica
        if offset_reset not in OFFSET_RESETS:
            raise TriageError(f"offset_reset must be one of {OFFSET_RESETS}: {offset_reset!r}")
        if max_records_per_poll < 1 or poll_timeout_ms < 0 or max_read_records < 1:
            raise TriageError(
                "max_records_per_poll and max_read_records must be >= 1, poll_timeout_ms >= 0"
            )
        self._config = ReadConfig(
            settings=settings,
            topic=topic,
            group_id=group_id,
            offset_reset=offset_reset,
            bounded=bounded,
            stop_after_idle_s=stop_after_idle_s,
            max_records_per_poll=max_records_per_poll,
            poll_timeout_ms=poll_timeout_ms,
            max_read_s=max_read_s,
            max_read_records=max_read_records,
        )

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        config = self._config
        partitions = partition_count(config.settings, config.topic)
        if partitions is None:
            raise TriageError(
                f"Kafka topic {config.topic!r} does not exist at "
                f"{config.settings.bootstrap_servers}: create it first"
            )
        owned = owned_partitions(partitions, self._replicas, self._replica)
        specs = [PartitionSpec(config, p) for p in owned]
        read_fn = ReadPartitionFn() if config.bounded else UnboundedReadPartitionFn()
        return (
            pbegin
            | "Partitions" >> beam.Create(specs)
            | "ReadPartitions" >> beam.ParDo(read_fn).with_output_types(KafkaRecord)
        )
