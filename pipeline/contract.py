"""The post contract: Kafka message value → validated post, or a dead letter with a reason.

The contract is ``pipeline/schemas/post.schema.json``; the checks here are hand-written
mirrors of it (a JSON Schema validator is ~50x slower per message) and
``tests/pipeline/test_contract.py`` checks that both agree on samples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "post.schema.json"
DEFAULT_MAX_TEXT_CHARS = 10_000
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
"""Largest raw message value accepted (Kafka's own default limit is 1 MiB per request)."""
MAX_NESTING_DEPTH = 32
"""Deepest JSON nesting accepted (a post is an object; ``geo``/``user`` are one level down)."""
MAX_OUTPUT_BYTES = 900 * 1024
"""Largest message the job writes: below Kafka's default 1 MiB ``max.request.size``."""
DEAD_LETTER_VALUE_BYTES = 16 * 1024
"""A dead letter carries the whole original value up to this size, else a preview of it."""
DEAD_LETTER_KEY_BYTES = 1024
MAX_DETAIL_CHARS = 500
MAX_ID_CHARS = 256
MAX_LANG_CHARS = 35

# Every reason a message can be dead-lettered for (the `reason` field and the metric label).
REASONS: tuple[str, ...] = (
    "empty_value",  # null value (tombstone) or zero bytes
    "message_too_large",  # raw value over --max-message-bytes (the dead letter keeps a preview)
    "invalid_utf8",
    "invalid_unicode",  # a lone surrogate escape (e.g. "\\ud800"): not encodable as UTF-8
    "invalid_json",
    "nesting_too_deep",  # JSON nested deeper than MAX_NESTING_DEPTH
    "non_finite_number",  # a number that overflows to Infinity (e.g. 1e999999)
    "not_an_object",  # valid JSON, but not an object
    "missing_id",
    "invalid_id",  # not a string, empty, or too long
    "missing_text",
    "invalid_text",  # not a string
    "empty_text",  # empty or whitespace only
    "text_too_long",
    "invalid_field",  # an optional field of the wrong type or format
    "inference_error",  # the model failed on the batch holding this post
    "output_too_large",  # the routed message would exceed MAX_OUTPUT_BYTES
    "internal_error",  # last resort: a per-post step raised (the detail names the exception)
)

OPTIONAL_STRING_FIELDS = ("lang", "event", "source")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The JSON Schema of a post, as shipped."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# The same ISO-8601 pattern as the schema's created_at (read from it, so they cannot drift).
_CREATED_AT = re.compile(load_schema()["properties"]["created_at"]["pattern"], re.ASCII)
_NON_SPACE = re.compile(r"\S")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Strict UTF-8 never yields surrogates: only a \\uD800-\\uDFFF JSON escape can (pairs combine).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class InvalidPost(ValueError):
    """A message that breaks the contract; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class RecordLike(Protocol):
    """What the contract needs of a Kafka record (``pipeline.kafka.KafkaRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Post:
    """A valid post and where it came from."""

    fields: dict[str, Any]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    ingested_at: str

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def text(self) -> str:
        return self.fields["text"]

    def kafka_ref(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
        }


def utc_now_iso() -> str:
    """Now, ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _NonFiniteNumber(ValueError):
    pass


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NonFiniteNumber(f"the number {literal[:40]} is too large for a 64-bit float")
    return value


# One decoder, built once (json.loads with hooks builds a new one per call: ~1/3 of the cost).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _check_structure(obj: Any, max_depth: int, check_surrogates: bool) -> None:
    """Raise InvalidPost if ``obj`` nests deeper than ``max_depth`` or holds a lone surrogate.

    Iterative (no recursion), so no input can exhaust the stack here or when it is pickled.
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if check_surrogates and _SURROGATE.search(value):
                raise InvalidPost("invalid_unicode", "a string holds a lone UTF-16 surrogate")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            raise InvalidPost("nesting_too_deep", f"JSON nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        else:
            stack.extend((item, depth + 1) for item in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_geo(geo: Any) -> None:
    if not isinstance(geo, dict):
        raise InvalidPost("invalid_field", "geo must be an object with lat and lon")
    for name, limit in (("lat", 90), ("lon", 180)):
        if name not in geo:
            raise InvalidPost("invalid_field", f"geo.{name} is missing")
        if not _is_number(geo[name]) or not -limit <= geo[name] <= limit:
            raise InvalidPost("invalid_field", f"geo.{name} must be a number within ±{limit}")
    if "name" in geo and not isinstance(geo["name"], str):
        raise InvalidPost("invalid_field", "geo.name must be a string")


def validate_post(obj: Any, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> dict[str, Any]:
    """Check a decoded JSON value against the contract; return it or raise InvalidPost."""
    if not isinstance(obj, dict):
        raise InvalidPost("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise InvalidPost("missing_id", "no 'id' field")
    post_id = obj["id"]
    if not isinstance(post_id, str) or not post_id or len(post_id) > MAX_ID_CHARS:
        raise InvalidPost("invalid_id", f"'id' must be a string of 1-{MAX_ID_CHARS} characters")
    if "text" not in obj:
        raise InvalidPost("missing_text", "no 'text' field")
    text = obj["text"]
    if not isinstance(text, str):
        raise InvalidPost("invalid_text", f"'text' must be a string, got {type(text).__name__}")
    if len(text) > max_text_chars:
        raise InvalidPost(
            "text_too_long", f"'text' has {len(text)} characters, the limit is {max_text_chars}"
        )
    if not _NON_SPACE.search(text):
        raise InvalidPost("empty_text", "'text' is empty or only whitespace")
    created_at = obj.get("created_at")
    if created_at is not None and (
        not isinstance(created_at, str) or not _CREATED_AT.match(created_at)
    ):
        raise InvalidPost("invalid_field", "'created_at' must be an ISO-8601 date-time string")
    for name in OPTIONAL_STRING_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidPost("invalid_field", f"'{name}' must be a string")
    lang = obj.get("lang")
    if lang is not None and len(lang) > MAX_LANG_CHARS:
        raise InvalidPost("invalid_field", f"'lang' is longer than {MAX_LANG_CHARS} characters")
    user = obj.get("user")
    if user is not None and not isinstance(user, (str, dict)):
        raise InvalidPost("invalid_field", "'user' must be a string or an object")
    if obj.get("geo") is not None:
        _check_geo(obj["geo"])
    return obj


def parse_value(
    value: bytes | None,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> dict:
    """Decode and validate one message value; raise InvalidPost naming the first problem.

    Checked in this order, before anything else can touch the value: size, strict UTF-8, JSON
    syntax (no NaN/Infinity, no number overflowing to infinity), nesting depth and lone
    surrogates, then the post contract.
    """
    if not value:
        raise InvalidPost("empty_value", "the message has no value")
    if len(value) > max_message_bytes:
        raise InvalidPost(
            "message_too_large",
            f"the value has {len(value)} bytes, the limit is {max_message_bytes}",
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPost("invalid_utf8", str(exc)) from None
    try:
        obj = _DECODER.decode(text)
    except _NonFiniteNumber as exc:
        raise InvalidPost("non_finite_number", str(exc)) from None
    except RecursionError:
        raise InvalidPost("nesting_too_deep", "JSON nested too deeply to parse") from None
    except ValueError as exc:
        raise InvalidPost("invalid_json", str(exc)[:200]) from None
    has_surrogates = bool(_SURROGATE_ESCAPE.search(text))
    # Fewer brackets than the depth limit cannot nest too deep: most posts skip the walk.
    if has_surrogates or text.count("[") + text.count("{") > MAX_NESTING_DEPTH:
        _check_structure(obj, MAX_NESTING_DEPTH, has_surrogates)
    return validate_post(obj, max_text_chars)


def parse_record(
    record: RecordLike,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Post:
    """A Kafka record → :class:`Post`, or raise InvalidPost."""
    return Post(
        fields=parse_value(record.value, max_text_chars, max_message_bytes),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        ingested_at=utc_now_iso(),
    )


def safe_text(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, lone surrogates escaped (always UTF-8 encodable)."""
    cut = text[:limit]
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _bytes_field(name: str, data: bytes, limit: int) -> dict[str, Any]:
    """``data`` as ``<name>_utf8`` (or ``<name>_base64``), cut to ``limit`` bytes when longer.

    A cut value also gets ``<name>_truncated``, ``<name>_bytes`` (the full size) and
    ``<name>_sha256`` (of the full value); the full value stays in the input topic at the
    dead letter's ``kafka`` coordinates.
    """
    part = data[:limit]
    fields: dict[str, Any] = {}
    try:
        fields[f"{name}_utf8"] = part.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(data) > limit and exc.start >= len(part) - 3:  # a character cut in two
            fields[f"{name}_utf8"] = part[: exc.start].decode("utf-8", "replace")
        else:
            fields[f"{name}_base64"] = base64.b64encode(part).decode("ascii")
    if len(data) > limit:
        fields[f"{name}_truncated"] = True
        fields[f"{name}_bytes"] = len(data)
        fields[f"{name}_sha256"] = hashlib.sha256(data).hexdigest()
    return fields


def dead_letter(record: RecordLike, reason: str, detail: str) -> dict[str, Any]:
    """The dead-letter value for a record: reason, original bytes, and where it came from.

    Always small enough to write (values over ``DEAD_LETTER_VALUE_BYTES`` keep a preview) and
    always encodable: a dead letter can never fail to be written.
    """
    letter: dict[str, Any] = {"reason": reason, "detail": safe_text(detail)}
    value = record.value
    if value is None:
        letter["value_utf8"] = None
    else:
        letter.update(_bytes_field("value", value, DEAD_LETTER_VALUE_BYTES))
    key = record.key
    if key is None:
        letter["key"] = None
    else:
        key_fields = _bytes_field("key", key, DEAD_LETTER_KEY_BYTES)
        letter["key"] = key_fields.pop("key_utf8", None)
        letter.update(key_fields)
    letter["kafka"] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.timestamp_ms,
    }
    letter["dead_lettered_at"] = utc_now_iso()
    return letter


def encode_json(obj: dict[str, Any]) -> bytes:
    """Compact, strict UTF-8 JSON, as written to every output topic.

    Raises ValueError on NaN/Infinity and UnicodeEncodeError on lone surrogates: what strict
    consumers would reject is never written.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")
