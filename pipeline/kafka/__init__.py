"""Kafka IO for the triage job: settings, records, a splittable-DoFn source, a sink, admin.

``ReadFromKafka`` and ``WriteToKafka`` are imported on first use, so CLI modules can import
``pipeline.kafka`` (for ``add_kafka_arguments``) without loading Apache Beam.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipeline.kafka.admin import ensure_topics, partition_count
from pipeline.kafka.config import KafkaSettings, add_kafka_arguments, settings_from_args
from pipeline.kafka.records import KafkaMessage, KafkaRecord

if TYPE_CHECKING:
    from pipeline.kafka.sink import WriteToKafka
    from pipeline.kafka.source import ReadFromKafka

_LAZY = {"ReadFromKafka": "pipeline.kafka.source", "WriteToKafka": "pipeline.kafka.sink"}

__all__ = [
    "KafkaMessage",
    "KafkaRecord",
    "KafkaSettings",
    "ReadFromKafka",
    "WriteToKafka",
    "add_kafka_arguments",
    "ensure_topics",
    "partition_count",
    "settings_from_args",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
