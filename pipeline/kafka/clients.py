"""kafka-python client factories that fail fast, with one readable error, when Kafka is down."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from models.errors import TriageError
from pipeline.kafka.config import KafkaSettings

BOOTSTRAP_TIMEOUT_MS = 5_000

ClientT = TypeVar("ClientT", KafkaConsumer, KafkaProducer, KafkaAdminClient)


class KafkaUnavailableError(TriageError):
    """No broker answered at the bootstrap servers."""


@contextmanager
def _quiet_kafka_logs() -> Iterator[None]:
    """Hide kafka-python's per-attempt connection logs while bootstrapping: a failure is
    reported once, by KafkaUnavailableError, instead of after ~20 library lines."""
    logger = logging.getLogger("kafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def durable_producer_config(idempotent: bool = False) -> dict[str, Any]:
    """KafkaProducer settings under which an acknowledged write is a stored write.

    ``acks=all`` and unlimited retries. Idempotence is off by default: after a restart the
    embedded Tansu broker answered retried batches with DUPLICATE_SEQUENCE_NUMBER without
    having stored them, and kafka-python counts that answer as success (benchmarks/RESULTS.md,
    "Chaos"). Without it a retried batch is simply written again: at worst a duplicate, which
    at-least-once consumers handle, never a loss. One request in flight keeps retries in order.
    On a real Kafka cluster ``idempotent=True`` (``--idempotent-writes``) avoids those duplicates.
    """
    return {
        "acks": "all",
        "enable_idempotence": idempotent,
        "max_in_flight_requests_per_connection": 5 if idempotent else 1,
    }


def connect(cls: type[ClientT], settings: KafkaSettings, **kwargs: Any) -> ClientT:
    """Create a kafka-python client; bootstrap failures raise KafkaUnavailableError within
    ``BOOTSTRAP_TIMEOUT_MS``."""
    kwargs.setdefault("bootstrap_timeout_ms", BOOTSTRAP_TIMEOUT_MS)
    try:
        with _quiet_kafka_logs():
            return cls(**settings.kafka_python_kwargs(), **kwargs)
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise KafkaUnavailableError(
            f"cannot reach Kafka at {settings.bootstrap_servers} ({exc}): {_hint(settings)}"
        ) from exc


def _hint(settings: KafkaSettings) -> str:
    """What to check when no broker answers."""
    if settings.security_protocol == "PLAINTEXT":
        return "is the broker running? (`triage broker` starts a local one)"
    return f"is the broker running, and are the {settings.security_protocol} settings right?"


def check_reachable(settings: KafkaSettings, timeout_s: float = 3.0) -> None:
    """Raise KafkaUnavailableError at once unless some bootstrap address accepts TCP.

    A fast pre-flight for commands that load a model first: a refused or unresolvable address
    fails in milliseconds (a silent one within ``timeout_s``) instead of after the model load
    and kafka-python's bootstrap retries.
    """
    problems = []
    for address in (a.strip() for a in settings.bootstrap_servers.split(",")):
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout_s):
                return
        except ValueError:
            problems.append(f"{address}: the port is not a number")
        except OSError as exc:
            problems.append(f"{address}: {exc.strerror or type(exc).__name__}")
    raise KafkaUnavailableError(
        f"cannot reach Kafka at {settings.bootstrap_servers} ({'; '.join(problems)}): "
        f"{_hint(settings)}"
    )
