"""Shared fixtures: a tiny random ONNX model package (real ONNX, real tokenizer)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRIAGE_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer random BERT classifier package built and exported on the spot."""
    from distill.testing import build_random_package

    return build_random_package(tmp_path_factory.mktemp("models") / "tiny-random")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present (set TRIAGE_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def kafka_broker():
    """A real Tansu broker (memory storage) on a free port for the whole test session."""
    import sys

    from pipeline.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    yield broker
    readers = sys.modules.get("pipeline.kafka.readers")
    if readers is not None:  # close cached source consumers before the broker goes away
        readers.READERS.close_all()
    broker.stop()


@pytest.fixture(scope="session")
def kafka_settings(kafka_broker):
    """KafkaSettings pointing at ``kafka_broker``."""
    from pipeline.kafka.config import KafkaSettings

    return KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers)
