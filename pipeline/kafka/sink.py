"""WriteToKafka: an acks=all producer whose bundles end only when Kafka acked every message."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from kafka import KafkaProducer

from pipeline.kafka.clients import connect, durable_producer_config
from pipeline.kafka.config import KafkaSettings
from pipeline.kafka.records import KafkaMessage


class KafkaWriteError(RuntimeError):
    """Kafka refused or lost a message; the bundle fails and the runner retries it."""


class WriteToKafkaFn(beam.DoFn):
    """Sends each KafkaMessage; ``finish_bundle`` flushes and fails on any unacked send."""

    def __init__(self, settings: KafkaSettings, linger_ms: int, idempotent: bool = False) -> None:
        self._settings = settings
        self._linger_ms = linger_ms
        self._idempotent = idempotent
        self._producer: KafkaProducer | None = None
        self._pending: list[Any] = []

    def setup(self) -> None:
        self._producer = connect(
            KafkaProducer,
            self._settings,
            linger_ms=self._linger_ms,
            **durable_producer_config(self._idempotent),
        )

    def start_bundle(self) -> None:
        self._pending = []

    def process(self, message: KafkaMessage) -> None:
        assert self._producer is not None
        self._pending.append(
            self._producer.send(
                message.topic,
                key=message.key,
                value=message.value,
                headers=list(message.headers),
            )
        )

    def finish_bundle(self) -> None:
        assert self._producer is not None
        self._producer.flush()
        failed = [f.exception for f in self._pending if f.failed()]
        self._pending = []
        if failed:
            raise KafkaWriteError(f"{len(failed)} Kafka writes failed, first: {failed[0]!r}")

    def teardown(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None


class WriteToKafka(beam.PTransform):
    """KafkaMessage → Kafka (each message to its own ``topic``); outputs nothing useful.

    Example::

        messages | WriteToKafka(settings)
    """

    def __init__(
        self, settings: KafkaSettings, *, linger_ms: int = 5, idempotent: bool = False
    ) -> None:
        super().__init__()
        self._settings = settings
        self._linger_ms = linger_ms
        self._idempotent = idempotent

    def expand(self, messages: beam.PCollection) -> beam.PCollection:
        write = WriteToKafkaFn(self._settings, self._linger_ms, self._idempotent)
        return messages | "Produce" >> beam.ParDo(write)
