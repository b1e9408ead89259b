"""Hot swap mid-stream: a running `triage run --model REPO` switches to a newly published version
without a restart, refuses a broken one, and routes every input offset exactly once."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from distill.learn import publish_version
from models.package import ModelPackage, write_metadata
from pipeline.broker import free_port
from pipeline.chaos.processes import JobProcess, RateProducer, wait_until
from pipeline.kafka import ensure_topics
from pipeline.routing import output_topics
from pipeline.watch import OutputWatcher

pytestmark = [pytest.mark.integration]

TOPIC, PREFIX, GROUP = "swap.posts", "swap", "swap-job"


def _version(source: Path, out: Path, version: str) -> Path:
    """A copy of ``source`` as package version ``version`` (fresh checksums), outside a repo."""
    folder = shutil.copytree(source, out)
    meta = json.loads((folder / "triage.json").read_text())
    meta.pop("files")
    write_metadata(folder, {**meta, "version": version})
    return folder


def _metric(port: int, line_start: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_published_version_is_swapped_in_mid_stream_and_a_broken_one_refused(
    kafka_settings, tiny_model: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(_version(tiny_model, tmp_path / "v1", "1"), repo / "1")
    ensure_topics(kafka_settings, [TOPIC], partitions=2)
    ensure_topics(kafka_settings, output_topics(PREFIX), partitions=2)
    port = free_port()
    job = JobProcess(
        kafka_settings, TOPIC, PREFIX, GROUP, repo,
        # Only the swapped English model: other languages go to review, not to the
        # multilingual package (whose version would mix into the versions checked here).
        ("--model-poll-seconds", "0.5", "--metrics-port", str(port),
         "--multilingual-model", "none"),
        log_path=tmp_path / "job.log",
    ).start()  # fmt: skip
    watcher = OutputWatcher(kafka_settings, PREFIX, TOPIC).start()
    producer = RateProducer(kafka_settings, TOPIC, rate=100, seed=3).start()
    try:
        wait_until(lambda: watcher.snapshot().total >= 150, 120, "posts routed by version 1")
        # a broken version 3 and a valid version 2 appear together: 3 is refused, 2 served
        publish_version(
            _version(tiny_model, tmp_path / "v2", "2"), repo, ModelPackage.load(repo / "1")
        )
        broken = _version(tiny_model, tmp_path / "v3", "3")
        (broken / "model.onnx").write_bytes(b"not a graph")
        broken.rename(repo / "3")
        wait_until(
            lambda: "2" in watcher.snapshot().versions.values(), 60, "a post routed by version 2"
        )
        after_swap = len(producer.acked)
        wait_until(lambda: len(producer.acked) >= after_swap + 100, 60, "more posts produced")
        producer.stop()
        wait_until(
            lambda: set(producer.acked) <= set(watcher.snapshot().input_offsets), 60, "every post"
        )
        assert job.alive(), job.wait(1)[1]
        swapped = _metric(port, 'triage_model_swaps_total{outcome="swapped"}')
        refused = _metric(port, 'triage_model_swaps_total{outcome="refused"}')
    finally:
        producer.stop() if producer.error is None else None
        watcher.stop()
        if job.alive():
            job.kill()
    seen = watcher.snapshot()
    assert set(producer.acked) <= set(seen.input_offsets)  # nothing lost
    assert seen.duplicates == 0  # no restart: nothing routed twice
    assert set(seen.versions.values()) == {"1", "2"}
    for partition in (0, 1):  # per partition, every post after the swap is version 2
        offsets = {o: v for (p, o), v in seen.versions.items() if p == partition}
        last_v1 = max(o for o, v in offsets.items() if v == "1")
        first_v2 = min(o for o, v in offsets.items() if v == "2")
        assert last_v1 < first_v2
    assert (swapped, refused) == (1.0, 1.0)
    log = (tmp_path / "job.log").read_text()
    assert "model version" in log and "refused" in log and "Traceback" not in log
