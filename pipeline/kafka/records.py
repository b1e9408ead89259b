"""Plain, picklable records that flow between Kafka and the Beam job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class KafkaRecord:
    """One message read from Kafka, with its coordinates (what the source emits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: Headers = ()

    @classmethod
    def from_consumer_record(cls, record: Any) -> KafkaRecord:
        """Convert a kafka-python ``ConsumerRecord``."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp_ms=record.timestamp,
            headers=normalize_headers(record.headers),
        )


@dataclass(frozen=True)
class KafkaMessage:
    """One message to write to Kafka (what the sink consumes)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


def normalize_headers(headers: Any) -> Headers:
    """Kafka headers as a tuple of (str, bytes); a null header value becomes b''."""
    if not headers:
        return ()
    return tuple((str(name), bytes(value or b"")) for name, value in headers)
