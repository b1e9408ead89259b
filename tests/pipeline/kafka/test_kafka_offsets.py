"""Offset and restriction logic of the Kafka source (no broker needed)."""

from __future__ import annotations

import time

import pytest
from apache_beam.io.restriction_trackers import OffsetRange
from apache_beam.utils.timestamp import Timestamp

from pipeline.kafka.config import KafkaSettings
from pipeline.kafka.offsets import UNBOUNDED_STOP, resolve_start_offset, restriction_bounds
from pipeline.kafka.source import (
    IDLE_WATERMARK_LAG_S,
    PartitionOffsetTracker,
    PartitionRestrictionProvider,
    PartitionSpec,
    PartitionWatermarkEstimator,
    ReadConfig,
)


@pytest.mark.parametrize(
    ("committed", "reset", "expected"),
    [
        (7, "earliest", 7),  # a committed offset wins over the reset policy
        (7, "latest", 7),
        (None, "earliest", 3),  # no commit yet: reset policy
        (None, "latest", 20),
        (1, "earliest", 3),  # committed below the log start (deleted by retention)
        (25, "latest", 20),  # committed past the end (topic recreated)
        (20, "earliest", 20),  # committed == high watermark: nothing left, stay there
    ],
)
def test_start_offset(committed: int | None, reset: str, expected: int) -> None:
    assert resolve_start_offset(committed, earliest=3, high_watermark=20, offset_reset=reset) == (
        expected
    )


def test_unknown_reset_policy() -> None:
    with pytest.raises(ValueError, match="offset_reset"):
        resolve_start_offset(None, 0, 5, "smallest")


def test_bounded_stops_at_high_watermark_unbounded_never() -> None:
    assert restriction_bounds(4, 0, 10, "earliest", bounded=True) == (4, 10)
    assert restriction_bounds(4, 0, 10, "earliest", bounded=False) == (4, UNBOUNDED_STOP)
    assert restriction_bounds(None, 0, 10, "latest", bounded=True) == (10, 10)  # empty read


def spec(bounded: bool) -> PartitionSpec:
    return PartitionSpec(ReadConfig(KafkaSettings("unused:1"), "t", "g", bounded=bounded), 2)


def test_no_initial_split_and_sizes() -> None:
    provider = PartitionRestrictionProvider()
    bounded = OffsetRange(5, 105)
    assert list(provider.split(spec(True), bounded)) == [bounded]
    assert provider.restriction_size(spec(True), bounded) == 100
    # Unbounded with no reader in this process yet: no known backlog, never negative.
    assert provider.restriction_size(spec(False), OffsetRange(5, UNBOUNDED_STOP)) == 0


def test_tracker_refuses_splits_other_than_checkpoints() -> None:
    tracker = PartitionOffsetTracker(OffsetRange(10, 100))
    assert tracker.try_claim(10) and tracker.try_claim(11) and tracker.try_claim(14)
    assert tracker.try_split(0.5) is None  # no concurrent reading of one partition
    primary, residual = tracker.try_split(0)  # checkpoint right after the last claim
    assert (primary, residual) == (OffsetRange(10, 15), OffsetRange(15, 100))
    assert not tracker.try_claim(15)  # the primary is done
    tracker.check_done()


def test_tracker_boundedness_and_clean_finish() -> None:
    assert PartitionOffsetTracker(OffsetRange(0, 10)).is_bounded()
    unbounded = PartitionOffsetTracker(OffsetRange(0, UNBOUNDED_STOP))
    assert not unbounded.is_bounded()
    assert unbounded.try_claim(3)
    assert not unbounded.try_claim(UNBOUNDED_STOP)  # what the source does to finish on idle
    unbounded.check_done()


def test_watermark_follows_records_and_advances_when_idle() -> None:
    estimator = PartitionWatermarkEstimator(None)
    assert estimator.current_watermark() is None
    estimator.observe_timestamp(Timestamp(100))
    estimator.observe_timestamp(Timestamp(90))  # late record: the watermark never goes back
    assert estimator.current_watermark() == Timestamp(100)
    assert estimator.record_idle(caught_up=False) < 1.0
    assert estimator.current_watermark() == Timestamp(100)  # behind: no idle advance
    before = time.time()
    estimator.record_idle(caught_up=True)
    watermark = estimator.current_watermark().micros / 1e6
    assert before - IDLE_WATERMARK_LAG_S - 1 < watermark <= time.time() - IDLE_WATERMARK_LAG_S


def test_idle_time_survives_checkpoints_and_resets_on_records() -> None:
    estimator = PartitionWatermarkEstimator(None)
    estimator.record_idle(caught_up=True)
    watermark, idle_since = estimator.get_estimator_state()
    resumed = PartitionWatermarkEstimator((watermark, idle_since - 30))  # as after a checkpoint
    assert resumed.record_idle(caught_up=True) >= 30
    resumed.record_activity()
    assert resumed.record_idle(caught_up=True) < 1.0
