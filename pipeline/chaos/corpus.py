"""Fuzzed messages with known outcomes: poison pills, JSONTestSuite-style documents, mutated
posts; and the judge that compares the job's output with what each message required."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from pipeline.demo_data import generate_posts
from pipeline.kafka.config import KafkaSettings
from pipeline.watch import Seen

ANY = "any"
"""Expected outcome of a message that may be routed or dead-lettered (random byte damage)."""
ANY_REJECTED = "any_rejection"
"""Expected outcome of a message that must be dead-lettered, for whichever reason."""


@dataclass(frozen=True)
class FuzzCase:
    """One message and what the job must do with it: ``expected`` is a dead-letter reason,
    None (routed), or :data:`ANY` (either, but exactly once)."""

    kind: str
    value: bytes | None
    expected: str | None
    key: bytes | None = None


def _post(post_id: str, text: str = "We need drinking water at the shelter", **extra: Any) -> dict:
    return {"id": post_id, "text": text, **extra}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def poison_pills(tag: str) -> list[FuzzCase]:
    """The single messages that used to stop the job (issue 12), and their close relatives."""
    huge_text = _dumps(_post(f"{tag}-huge", "need water " * 140_000))  # ~1.5 MB
    deep = b"[" * 600 + b"]" * 600
    return [
        FuzzCase("pill_huge_text", huge_text, "message_too_large"),
        FuzzCase("pill_huge_garbage", b"\x00garbage" * 190_000, "message_too_large"),
        FuzzCase("pill_huge_key", _dumps(_post(f"{tag}-hk")), None, key=b"k" * 200_000),
        FuzzCase(
            "pill_surrogate_key",
            f'{{"id":"{tag}-s1","text":"need water","\\ud800":1}}'.encode(),
            "invalid_unicode",
        ),
        FuzzCase(
            "pill_surrogate_text",
            f'{{"id":"{tag}-s2","text":"need water \\udfff"}}'.encode(),
            "invalid_unicode",
        ),
        FuzzCase(
            "pill_deep_nesting",
            f'{{"id":"{tag}-d","text":"need water","x":'.encode() + deep + b"}",
            "nesting_too_deep",
        ),
        FuzzCase("pill_deep_bare", b"[" * 50_000 + b"]" * 50_000, "nesting_too_deep"),
        FuzzCase(
            "pill_overflow",
            f'{{"id":"{tag}-o","text":"x","n":1e999999}}'.encode(),
            "non_finite_number",
        ),
        FuzzCase("pill_nan", f'{{"id":"{tag}-n","text":"x","n":NaN}}'.encode(), "invalid_json"),
    ]


# JSONTestSuite-style documents (written for this project after its n_/y_ naming): ``n_`` must
# be rejected by a parser, ``y_`` accepted. As a whole message an ``n_`` document is a dead
# letter; a ``y_`` value embedded as an extra field of a valid post is routed.
N_DOCUMENTS: dict[str, bytes] = {
    "n_array_trailing_comma": b"[1,]",
    "n_array_unclosed": b"[1",
    "n_object_trailing_comma": b'{"id":"a",}',
    "n_object_single_quotes": b"{'id':'a'}",
    "n_object_unquoted_key": b'{id:"a"}',
    "n_object_missing_colon": b'{"id" "a"}',
    "n_object_unclosed": b'{"id":"a","text":"b"',
    "n_string_unescaped_newline": b'{"id":"a","text":"line\nbreak"}',
    "n_string_unescaped_tab": b'{"id":"a","text":"tab\there"}',
    "n_string_bad_escape": b'{"id":"a","text":"\\x41"}',
    "n_string_incomplete_unicode": b'{"id":"a","text":"\\u12"}',
    "n_string_single_quote": b"['single']",
    "n_number_leading_zero": b'{"id":"a","text":"b","n":012}',
    "n_number_plus": b'{"id":"a","text":"b","n":+1}',
    "n_number_dot_only": b'{"id":"a","text":"b","n":1.}',
    "n_number_hex": b'{"id":"a","text":"b","n":0x10}',
    "n_number_infinity": b'{"id":"a","text":"b","n":Infinity}',
    "n_number_minus_infinity": b'{"id":"a","text":"b","n":-Infinity}',
    "n_number_nan": b'{"id":"a","text":"b","n":NaN}',
    "n_literal_capital_true": b'{"id":"a","text":"b","f":True}',
    "n_structure_double_document": b'{"id":"a","text":"b"}{"id":"c","text":"d"}',
    "n_structure_trailing_garbage": b'{"id":"a","text":"b"}x',
    "n_structure_comment": b'{"id":"a","text":"b"/* c */}',
    "n_structure_lone_open_brace": b"{",
    "n_structure_close_only": b"]",
    "n_structure_whitespace_only": b"   ",
    "n_structure_bom_only": b"\xef\xbb\xbf",
    "n_structure_nul_in_middle": b'{"id":"a",\x00"text":"b"}',
    "n_utf8_invalid_byte": b'{"id":"a","text":"\xff"}',
    "n_utf8_overlong": b'{"id":"a","text":"\xc0\xaf"}',
    "n_utf8_encoded_surrogate": b'{"id":"a","text":"\xed\xa0\x80"}',
    "n_utf8_truncated_sequence": b'{"id":"a","text":"\xe2\x82"}',
}
Y_VALUES: dict[str, bytes] = {
    "y_array_empty": b"[]",
    "y_array_nested": b"[[[]],[[1]]]",
    "y_object_empty": b"{}",
    "y_object_duplicated_key": b'{"a":1,"a":2}',
    "y_object_empty_key": b'{"":0}',
    "y_number_negative_zero": b"-0",
    "y_number_exponent": b"1E+2",
    "y_number_small_exponent": b"1e-400",
    "y_number_big_integer": b"123456789012345678901234567890",
    "y_number_max_double": b"1.7976931348623157e308",
    "y_string_escapes": b'"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    "y_string_unicode_escape": b'"\\u00e9\\u4e2d"',
    "y_string_surrogate_pair": b'"\\ud83d\\ude00"',
    "y_string_nul_escape": b'"\\u0000"',
    "y_string_raw_utf8": '"señal, 中文, مساعدة"'.encode(),
    "y_string_line_separator": '"\u2028\u2029"'.encode(),
    "y_literals": b"[true,false,null]",
    "y_whitespace": b" \n\t\r [ 1 ] ",
}


def jsonsuite_cases(tag: str) -> list[FuzzCase]:
    """Every ``n_`` document as a message (dead letter) and every ``y_`` value inside a post."""
    cases = [FuzzCase(name, doc, ANY_REJECTED) for name, doc in N_DOCUMENTS.items()]
    for name, value in Y_VALUES.items():
        doc = b'{"id":"' + f"{tag}-{name}".encode() + b'","text":"need water","v":' + value + b"}"
        cases.append(FuzzCase(name, doc, None))
    return cases


def _mutations(rng: random.Random, post: dict) -> tuple[str, bytes | None, str | None]:
    """One malformed (or deliberately valid) variant of ``post`` with its expected outcome."""
    kind = rng.choice(
        (
            "truncated", "byte_flip", "not_object", "no_id", "bad_id", "no_text", "bad_text",
            "empty_text", "long_text", "bad_created_at", "bad_geo", "bad_lang", "empty",
            "binary", "extra_fields",
        )
    )  # fmt: skip
    raw = _dumps(post)
    if kind == "truncated":
        return kind, raw[: rng.randrange(1, len(raw) - 1)], ANY_REJECTED
    if kind == "byte_flip":
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        return kind, bytes(damaged), ANY
    if kind == "not_object":
        return kind, _dumps(rng.choice([[post], post["text"], 42, None, True])), "not_an_object"
    if kind == "no_id":
        return kind, _dumps({"text": post["text"]}), "missing_id"
    if kind == "bad_id":
        return kind, _dumps({**post, "id": rng.choice([7, "", "x" * 300, None])}), "invalid_id"
    if kind == "no_text":
        return kind, _dumps({"id": post["id"]}), "missing_text"
    if kind == "bad_text":
        return kind, _dumps({**post, "text": rng.choice([1, ["a"], {"t": 1}])}), "invalid_text"
    if kind == "empty_text":
        return kind, _dumps({**post, "text": rng.choice(["", " ", "\n\t"])}), "empty_text"
    if kind == "long_text":
        return kind, _dumps({**post, "text": "help " * 2_500}), "text_too_long"
    if kind == "bad_created_at":
        return kind, _dumps({**post, "created_at": "last tuesday"}), "invalid_field"
    if kind == "bad_geo":
        return kind, _dumps({**post, "geo": {"lat": 200, "lon": 0}}), "invalid_field"
    if kind == "bad_lang":
        return kind, _dumps({**post, "lang": 5}), "invalid_field"
    if kind == "empty":
        return kind, rng.choice([b"", None]), "empty_value"
    if kind == "binary":
        return kind, b"\xff" + rng.randbytes(rng.randint(0, 64)), "invalid_utf8"
    extra = {f"f{i}": rng.choice([1.5, "x", [1, {"a": None}], {"b": [True]}]) for i in range(5)}
    return kind, _dumps({**post, **extra}), None


def fuzz_corpus(n: int, seed: int = 0, partitions: int = 1) -> list[FuzzCase]:
    """``n`` messages: roughly half valid posts, half malformed, plus the poison pills and the
    JSONTestSuite-style cases once per partition (so every partition meets every pill)."""
    rng = random.Random(seed)
    cases: list[FuzzCase] = []
    for p in range(partitions):
        cases += poison_pills(f"p{p}") + jsonsuite_cases(f"p{p}")
    posts = generate_posts(max(0, n - len(cases)), seed=seed)
    for i, post in enumerate(posts):
        post = {**post, "id": f"fuzz-{seed}-{i}"}
        if rng.random() < 0.5:
            cases.append(FuzzCase("valid", _dumps(post), None))
        else:
            kind, value, expected = _mutations(rng, post)
            key = post["id"].encode() if value is None else None  # a tombstone needs a key
            cases.append(FuzzCase(kind, value, expected, key))
    rng.shuffle(cases)
    return cases


def produce_cases(
    settings: KafkaSettings, topic: str, cases: list[FuzzCase], partitions: int
) -> dict[tuple[int, int], FuzzCase]:
    """Write ``cases`` round-robin over ``partitions``; return (partition, offset) → case."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        **settings.kafka_python_kwargs(), linger_ms=5, max_request_size=4 * 1024 * 1024
    )
    try:
        sent = [
            (producer.send(topic, key=c.key, value=c.value, partition=i % partitions), c)
            for i, c in enumerate(cases)
        ]
        producer.flush()
        return {(f.get().partition, f.get().offset): c for f, c in sent}
    finally:
        producer.close()


@dataclass
class Verdict:
    """How the job's output compares with what each fuzzed message required."""

    lost: list[tuple[int, int]] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # "kind at p/o: expected X, got Y"
    duplicates: int = 0
    routed: int = 0
    dead_lettered: int = 0
    non_strict: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.wrong or self.non_strict)


def judge(produced: dict[tuple[int, int], FuzzCase], seen: Seen) -> Verdict:
    """Compare the watcher's view of the output with each message's expected outcome."""
    verdict = Verdict(duplicates=seen.duplicates, non_strict=seen.non_strict)
    for offset, case in produced.items():
        if offset not in seen.input_offsets:
            verdict.lost.append(offset)
            continue
        reason = seen.reason_of.get(offset)
        if reason is None:
            verdict.routed += 1
        else:
            verdict.dead_lettered += 1
        expected = case.expected
        if expected == ANY or (expected == ANY_REJECTED and reason is not None):
            continue
        if reason != expected:
            verdict.wrong.append(f"{case.kind} at {offset}: expected {expected}, got {reason}")
    return verdict
