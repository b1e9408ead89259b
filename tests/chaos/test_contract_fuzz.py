"""Property tests: no message value, key or field can make parsing, routing or dead-lettering
raise anything but a dead letter, and everything the job writes is strict JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from apache_beam import pvalue
from apache_beam.ml.inference.base import PredictionResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.runtime import Prediction
from pipeline.chaos.corpus import N_DOCUMENTS, Y_VALUES
from pipeline.contract import (
    MAX_OUTPUT_BYTES,
    REASONS,
    InvalidPost,
    dead_letter,
    encode_json,
    parse_record,
    parse_value,
)
from pipeline.kafka.records import KafkaRecord
from pipeline.transforms import ParsePosts, RoutePosts

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every code point, lone surrogates included (json.dumps escapes them as \udXXX).
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=30,
)


def _strict(data: bytes) -> Any:
    def reject(name: str) -> None:
        raise AssertionError(f"{name} in output")

    return json.loads(data.decode("utf-8"), parse_constant=reject)


def _record(value: bytes | None, key: bytes | None = b"k") -> KafkaRecord:
    return KafkaRecord("posts", 0, 7, key, value, 1_700_000_000_000)


def _outcome(value: bytes | None) -> dict | str:
    try:
        return parse_value(value)
    except InvalidPost as exc:
        assert exc.reason in REASONS
        return exc.reason


def _route(post_value: bytes, enrich=None) -> list:
    route = RoutePosts("out")
    route.setup()
    if enrich is not None:
        route._enrich = enrich
    post = parse_record(_record(post_value))
    probabilities = {"request": 0.7, "offer": 0.1, "emotional_support": 0.1, "other": 0.1}
    prediction = Prediction("request", probabilities, "m@1")
    return list(route.process((post, PredictionResult(post.text, prediction))))


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_dead_letter(value: bytes) -> None:
    _outcome(value)
    _strict(encode_json(dead_letter(_record(value, key=value), "invalid_json", "x")))


@FAST
@given(JSON_VALUES, ANY_TEXT)
def test_any_json_field_is_routed_strictly_or_dead_lettered(extra: Any, text: str) -> None:
    doc = {"id": "p1", "text": text, "extra": extra}
    value = json.dumps(doc, allow_nan=True).encode("utf-8")  # may hold NaN or \ud800 escapes
    outcome = _outcome(value)
    if isinstance(outcome, dict):
        (message,) = _route(value)
        assert json.loads(message.value)["text"] == text  # routed: text kept, strictly encoded
        _strict(message.value)


@FAST
@given(st.lists(ANY_TEXT, max_size=3))
def test_parse_step_never_raises(texts: list[str]) -> None:
    step = ParsePosts("out", max_text_chars=10_000)
    for text in texts:
        raw = json.dumps({"id": "a", "text": text}).encode()
        for out in step.process(_record(raw)):
            if isinstance(out, pvalue.TaggedOutput):
                _strict(out.value.value)


@pytest.mark.parametrize("name", sorted(N_DOCUMENTS))
def test_n_documents_are_dead_lettered(name: str) -> None:
    assert isinstance(_outcome(N_DOCUMENTS[name]), str)


@pytest.mark.parametrize("name", sorted(Y_VALUES))
def test_y_values_inside_a_post_are_routed(name: str) -> None:
    value = b'{"id":"a","text":"need water","v":' + Y_VALUES[name] + b"}"
    assert isinstance(_outcome(value), dict)
    (message,) = _route(value)
    _strict(message.value)


def test_a_failing_routing_step_dead_letters_the_post() -> None:
    def broken_enrich(fields: dict) -> dict:
        raise KeyError("gazetteer")

    (out,) = _route(b'{"id":"a","text":"need water"}', enrich=broken_enrich)
    assert isinstance(out, pvalue.TaggedOutput)
    letter = _strict(out.value.value)
    assert letter["reason"] == "internal_error"
    assert "KeyError" in letter["detail"] and letter["kafka"]["offset"] == 7


def test_an_oversized_routed_message_is_dead_lettered_with_a_preview() -> None:
    big = json.dumps({"id": "a", "text": "need water", "pad": "x" * MAX_OUTPUT_BYTES}).encode()
    route = RoutePosts("out")
    route.setup()
    post = parse_record(_record(big), max_message_bytes=2 * MAX_OUTPUT_BYTES)
    prediction = Prediction(
        "other", {"request": 0, "offer": 0, "emotional_support": 0, "other": 1}, "m@1"
    )
    (out,) = route.process((post, PredictionResult(post.text, prediction)))
    letter = _strict(out.value.value)
    assert letter["reason"] == "output_too_large"
    assert letter["value_truncated"] and len(out.value.value) < 64 * 1024
