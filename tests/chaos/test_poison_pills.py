"""The poison pills of issue 12 and a fuzzed stream through the real job, broker and model.

Every message lands exactly where it must: malformed ones in ``<prefix>.dlq`` with the expected
reason, valid posts in a routed topic, nothing lost, all output strict JSON, and the job ends
on its own with exit code 0 (before the fix, each pill made `triage run` exit on every restart).
"""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.chaos.corpus import fuzz_corpus, judge, poison_pills, produce_cases
from pipeline.chaos.processes import JobProcess
from pipeline.kafka import ensure_topics
from pipeline.routing import output_topics
from pipeline.watch import OutputWatcher

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 3


def _run_job_over(kafka_settings, name: str, cases) -> tuple:
    topic, prefix = f"{name}.posts", name
    ensure_topics(kafka_settings, [topic], partitions=PARTITIONS)
    ensure_topics(kafka_settings, output_topics(prefix), partitions=PARTITIONS)
    produced = produce_cases(kafka_settings, topic, cases, PARTITIONS)
    watcher = OutputWatcher(kafka_settings, prefix, topic).start()
    try:
        job = JobProcess(kafka_settings, topic, prefix, f"{name}-job", "triage-tiny")
        code, output = job.start("--bounded").wait(timeout_s=240)
        assert code == 0, output
        seen = watcher.wait_for(len(produced), timeout_s=30)
    finally:
        watcher.stop()
    return produced, seen


def test_each_poison_pill_in_every_partition_is_dead_lettered(kafka_settings) -> None:
    cases = [case for p in range(PARTITIONS) for case in poison_pills(f"p{p}")]
    produced, seen = _run_job_over(kafka_settings, "pills", cases)
    verdict = judge(produced, seen)
    assert verdict.ok, (verdict.lost, verdict.wrong, verdict.non_strict)
    assert verdict.duplicates == 0
    assert {p for p, _ in produced} == set(range(PARTITIONS))
    assert seen.reasons == Counter(
        {
            "message_too_large": 2 * PARTITIONS,
            "invalid_unicode": 2 * PARTITIONS,
            "nesting_too_deep": 2 * PARTITIONS,
            "non_finite_number": PARTITIONS,
            "invalid_json": PARTITIONS,
        }
    )
    assert verdict.routed == PARTITIONS  # the valid post behind a 200 kB key


def test_fuzzed_stream_loses_nothing_and_writes_strict_json(kafka_settings) -> None:
    cases = fuzz_corpus(600, seed=3, partitions=PARTITIONS)
    produced, seen = _run_job_over(kafka_settings, "fuzz", cases)
    verdict = judge(produced, seen)
    assert not verdict.lost, f"lost {len(verdict.lost)} messages"
    assert not verdict.wrong, verdict.wrong[:5]
    assert verdict.non_strict == 0
    assert verdict.routed > 200 and verdict.dead_lettered > 200
