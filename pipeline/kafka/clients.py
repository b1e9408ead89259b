"""kafka-python client factories that fail fast, with one readable error, when Kafka is down."""

from __future__ import annotations

from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from models.errors import TriageError
from pipeline.kafka.config import KafkaSettings

BOOTSTRAP_TIMEOUT_MS = 10_000

ClientT = TypeVar("ClientT", KafkaConsumer, KafkaProducer, KafkaAdminClient)


class KafkaUnavailableError(TriageError):
    """No broker answered at the bootstrap servers."""


def connect(cls: type[ClientT], settings: KafkaSettings, **kwargs: Any) -> ClientT:
    """Create a kafka-python client; bootstrap failures raise KafkaUnavailableError."""
    kwargs.setdefault("bootstrap_timeout_ms", BOOTSTRAP_TIMEOUT_MS)
    try:
        return cls(**settings.kafka_python_kwargs(), **kwargs)
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        hint = (
            "is the broker running? (`triage broker` starts a local one)"
            if settings.security_protocol == "PLAINTEXT"
            else f"is the broker running, and are the {settings.security_protocol} settings right?"
        )
        raise KafkaUnavailableError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}): {hint}"
        ) from exc
