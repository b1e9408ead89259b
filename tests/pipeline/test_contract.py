"""The post contract: every dead-letter reason, dead-letter shape, and schema/code agreement."""

from __future__ import annotations

import base64
import json
import time

import jsonschema
import pytest

from pipeline.contract import (
    REASONS,
    InvalidPost,
    dead_letter,
    load_schema,
    parse_record,
    parse_value,
)
from pipeline.kafka.records import KafkaRecord


def _post(**fields) -> bytes:
    base = {"id": "p1", "text": "We need water at the shelter on 5th street"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode("utf-8")


# (message value, expected dead-letter reason or None when valid)
SAMPLES: list[tuple[bytes | None, str | None]] = [
    (_post(), None),
    (_post(created_at="2017-09-20T14:03:00Z", lang="en", user="maria_pr", event="maria"), None),
    (_post(created_at="2017-09-20", source="twitter", geo={"lat": 18.2, "lon": -66.5}), None),
    (_post(created_at="2017-09-20 14:03:00.123+04:00", user={"handle": "x"}), None),
    (_post(geo={"lat": 18, "lon": -66, "name": "San Juan"}, extra_field=[1, 2]), None),
    (_post(lang=None, geo=None, created_at=None, user=None), None),
    (_post(text="¡Necesitamos agua potable en Utuado! 🙏"), None),
    (_post(text="x" * 10_000), None),
    (None, "empty_value"),
    (b"", "empty_value"),
    (b'{"id": "p1", "text": "caf\xe9"}', "invalid_utf8"),
    (b"\xff\xfe\x00garbage", "invalid_utf8"),
    (b'{"id": "p1", "text": ', "invalid_json"),
    (b'{"id": "p1", "text": "a", "score": NaN}', "invalid_json"),
    (b"not json at all", "invalid_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"null", "not_an_object"),
    (json.dumps({"text": "help"}).encode(), "missing_id"),
    (_post(id=12345), "invalid_id"),
    (_post(id=""), "invalid_id"),
    (_post(id="x" * 257), "invalid_id"),
    (json.dumps({"id": "p1"}).encode(), "missing_text"),
    (_post(text=None), "invalid_text"),
    (_post(text=42), "invalid_text"),
    (_post(text=["help"]), "invalid_text"),
    (_post(text=""), "empty_text"),
    (_post(text=" \n\t "), "empty_text"),
    (_post(text="x" * 10_001), "text_too_long"),
    (_post(created_at="yesterday"), "invalid_field"),
    (_post(created_at="2017-13-01T00:00:00Z"), "invalid_field"),
    (_post(created_at=1505916180), "invalid_field"),
    (_post(lang=5), "invalid_field"),
    (_post(lang="x" * 36), "invalid_field"),
    (_post(event=["maria"]), "invalid_field"),
    (_post(source={"name": "twitter"}), "invalid_field"),
    (_post(user=7), "invalid_field"),
    (_post(geo="San Juan"), "invalid_field"),
    (_post(geo={"lat": 18.2}), "invalid_field"),
    (_post(geo={"lat": 95, "lon": 0}), "invalid_field"),
    (_post(geo={"lat": True, "lon": 0}), "invalid_field"),
    (_post(geo={"lat": 1, "lon": 2, "name": 3}), "invalid_field"),
    # The poison pills of issue 12 and their neighbours: limits checked before anything else.
    (b'{"id":"a","text":"' + b"x" * 300_000 + b'"}', "message_too_large"),
    (b"\x00" * 300_000, "message_too_large"),
    (b'{"id":"a","text":"need water","\\ud800":1}', "invalid_unicode"),
    (b'{"id":"a","text":"need water \\udc00 now"}', "invalid_unicode"),
    (b'{"id":"a","text":"need water","x":["\\uDBFF"]}', "invalid_unicode"),
    (b'{"id":"a","text":"\\ud83d\\ude00 need water"}', None),  # a valid pair: one emoji
    (b'{"id":"a","text":"x","n":1e999999}', "non_finite_number"),
    (b'{"id":"a","text":"x","n":[-1E400]}', "non_finite_number"),
    (b'{"id":"a","text":"x","n":1e308}', None),
    (b'{"id":"a","text":"x","d":' + b"[" * 500 + b"]" * 500 + b"}", "nesting_too_deep"),
    (b"[" * 100_000 + b"]" * 100_000, "nesting_too_deep"),  # past the parser's recursion limit
    (b'{"id":"a","text":"x","d":' + b"[" * 31 + b"]" * 31 + b"}", None),  # 32 levels: the limit
    (b'{"id":"a","text":"x","d":' + b"[" * 32 + b"]" * 32 + b"}", "nesting_too_deep"),
]


def _reason(value: bytes | None) -> str | None:
    try:
        parse_value(value)
    except InvalidPost as exc:
        assert exc.reason in REASONS
        return exc.reason
    return None


@pytest.mark.parametrize(("value", "expected"), SAMPLES)
def test_parse_value_reason(value: bytes | None, expected: str | None) -> None:
    assert _reason(value) == expected


def test_every_input_reason_is_exercised() -> None:
    seen = {expected for _, expected in SAMPLES if expected}
    # Model, routing and last-resort reasons do not come from parsing (tests/pipeline/test_job.py
    # and tests/chaos/ cover them).
    assert seen == set(REASONS) - {"inference_error", "output_too_large", "internal_error"}


# Limits on the raw message that the JSON Schema cannot express.
BEYOND_SCHEMA = (
    "empty_value",
    "invalid_utf8",
    "invalid_json",
    "message_too_large",
    "invalid_unicode",
    "non_finite_number",
    "nesting_too_deep",
)
# The samples the JSON Schema applies to: those that decode as JSON within the limits.
JSON_SAMPLES = [(value, expected) for value, expected in SAMPLES if expected not in BEYOND_SCHEMA]


@pytest.mark.parametrize(("value", "expected"), JSON_SAMPLES)
def test_schema_file_agrees_with_code(value: bytes, expected: str | None) -> None:
    """The shipped JSON Schema accepts a decoded sample iff the hand-written checks do."""
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.loads(value)))
    assert (not errors) == (expected is None), [e.message for e in errors]


def test_text_limit_is_configurable() -> None:
    value = _post(text="x" * 300)
    assert parse_value(value, max_text_chars=300)["text"] == "x" * 300
    with pytest.raises(InvalidPost) as info:
        parse_value(value, max_text_chars=280)
    assert info.value.reason == "text_too_long"
    assert "280" in info.value.detail


def _record(value: bytes | None, key: bytes | None = b"k1") -> KafkaRecord:
    return KafkaRecord(
        topic="posts", partition=2, offset=41, key=key, value=value, timestamp_ms=1_700_000_000_000
    )


def test_parse_record_keeps_fields_and_origin() -> None:
    value = _post(extra={"nested": True}, lang="es")
    post = parse_record(_record(value))
    assert post.fields == json.loads(value)
    assert (post.id, post.text) == ("p1", json.loads(value)["text"])
    assert post.kafka_ref() == {
        "topic": "posts",
        "partition": 2,
        "offset": 41,
        "timestamp_ms": 1_700_000_000_000,
    }
    assert post.ingested_at.endswith("Z")


def test_dead_letter_utf8_value() -> None:
    letter = dead_letter(_record(b"[1]"), "not_an_object", "expected a JSON object, got list")
    assert letter["reason"] == "not_an_object"
    assert letter["value_utf8"] == "[1]"
    assert "value_base64" not in letter
    assert letter["key"] == "k1"
    assert letter["kafka"] == {
        "topic": "posts",
        "partition": 2,
        "offset": 41,
        "timestamp_ms": 1_700_000_000_000,
    }
    assert letter["dead_lettered_at"].endswith("Z")
    json.dumps(letter)  # serialisable as is


def test_dead_letter_binary_value_is_base64() -> None:
    raw = b"\xff\xfe\x00\x81binary"
    letter = dead_letter(_record(raw, key=b"\xff"), "invalid_utf8", "bad byte")
    assert "value_utf8" not in letter
    assert base64.b64decode(letter["value_base64"]) == raw
    assert letter["key"] is None
    assert base64.b64decode(letter["key_base64"]) == b"\xff"


def test_dead_letter_of_a_huge_value_keeps_a_small_preview() -> None:
    from pipeline.contract import DEAD_LETTER_VALUE_BYTES, encode_json

    raw = b'{"id":"a","text":"' + "é".encode() * 800_000 + b'"}'
    letter = dead_letter(_record(raw, key=b"k" * 5000), "message_too_large", "too big")
    assert letter["value_truncated"] is True and letter["value_bytes"] == len(raw)
    assert raw.startswith(letter["value_utf8"].encode())  # cut on a character boundary
    assert len(letter["value_utf8"].encode()) <= DEAD_LETTER_VALUE_BYTES
    assert letter["key_truncated"] is True and letter["key_bytes"] == 5000
    assert len(encode_json(letter)) < 2 * DEAD_LETTER_VALUE_BYTES


def test_dead_letter_detail_with_surrogates_is_encodable() -> None:
    from pipeline.contract import encode_json

    letter = dead_letter(_record(b"x"), "internal_error", "route raised: \ud800" + "y" * 9000)
    encoded = encode_json(letter)
    assert len(json.loads(encoded)["detail"]) < 600


def test_encode_json_is_strict() -> None:
    from pipeline.contract import encode_json

    with pytest.raises(ValueError):
        encode_json({"p": float("nan")})
    with pytest.raises(UnicodeEncodeError):
        encode_json({"t": "\ud800"})


def test_dead_letter_tombstone() -> None:
    letter = dead_letter(_record(None, key=None), "empty_value", "the message has no value")
    assert letter["value_utf8"] is None and letter["key"] is None


def test_validation_is_fast() -> None:
    """Hand-written checks: well under 50 µs per typical post even on a busy 2-core box."""
    values = [
        _post(id=f"p{i}", created_at="2017-09-20T14:03:00Z", lang="en") for i in range(20_000)
    ]
    start = time.perf_counter()
    for value in values:
        parse_value(value)
    per_post = (time.perf_counter() - start) / len(values)
    assert per_post < 50e-6, f"{per_post * 1e6:.1f} µs per post"


def test_demo_sample_is_valid_and_regenerable() -> None:
    """pipeline/demo_posts.jsonl: contract-valid posts, exactly what its generator writes."""
    import io
    from contextlib import redirect_stdout
    from pathlib import Path

    import pipeline.demo_data as demo_data

    shipped = Path(demo_data.__file__).with_name("demo_posts.jsonl").read_text(encoding="utf-8")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        demo_data.main()
    assert buffer.getvalue() == shipped
    lines = shipped.splitlines()
    assert len(lines) == 200
    posts = [parse_value(line.encode("utf-8")) for line in lines]
    assert len({p["id"] for p in posts}) == 200
    assert sum("geo" in p for p in posts) > 20
