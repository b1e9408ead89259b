"""End to end on a real Tansu broker: confluent-kafka produces, the job routes, confluent reads.

One bounded `triage run` over valid posts (all four labels, some under threshold) and one
message per dead-letter reason; every input offset must come out exactly once, in the right
topic, with the right shape.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import pytest
from job_helpers import decisive_copy

from models.package import ModelPackage
from models.runtime import OnnxClassifier
from pipeline.cli import main
from pipeline.demo_data import generate_posts
from pipeline.routing import LABEL_ROUTES, ROUTES, choose_route

HAS_ENRICH = importlib.util.find_spec("pipeline.enrich") is not None

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BAD_MESSAGES: list[tuple[bytes | None, str]] = [
    (b"", "empty_value"),
    (b'{"id": "x1", "text": "caf\xe9"}', "invalid_utf8"),
    (b'{"id": "x2", "text": ', "invalid_json"),
    (b'["a", "list"]', "not_an_object"),
    (b'{"text": "no id here"}', "missing_id"),
    (b'{"id": 17, "text": "numeric id"}', "invalid_id"),
    (b'{"id": "x3"}', "missing_text"),
    (b'{"id": "x4", "text": 3.5}', "invalid_text"),
    (b'{"id": "x5", "text": "   "}', "empty_text"),
    (json.dumps({"id": "x6", "text": "long " * 200}).encode(), "text_too_long"),
    (b'{"id": "x7", "text": "ok", "created_at": "last tuesday"}', "invalid_field"),
]
MAX_TEXT_CHARS = 500


@pytest.fixture(scope="module")
def posts() -> list[dict]:
    return generate_posts(80, seed=11)


@pytest.fixture(scope="module")
def routing_model(tiny_model: Path, tmp_path_factory, posts) -> Path:
    """A decisive tiny model whose 'request' threshold sends some requests to review."""
    texts = [p["text"] for p in generate_posts(200, seed=3)]
    out = tmp_path_factory.mktemp("routing") / "decisive"
    model = decisive_copy(tiny_model, out, {}, texts, scale=10_000)
    predictions = OnnxClassifier.from_path(model).predict([p["text"] for p in posts])
    confidences = sorted(p.confidence for p in predictions if p.label == "request")
    assert len(confidences) >= 4, "the test model should predict several requests"
    # Threshold in the middle of the widest gap between request confidences: no post sits
    # near it, so tiny numeric differences between batchings cannot change its route.
    gaps = [(b - a, (a + b) / 2) for a, b in zip(confidences, confidences[1:], strict=False)]
    threshold = max(gaps[1:-1] or gaps)[1]
    return decisive_copy(
        tiny_model, tmp_path_factory.mktemp("routing2") / "m", {"request": threshold}, texts, 10_000
    )


def _metric_values() -> dict[str, float]:
    """The job's Prometheus counters in this process (the job runs in-process here)."""
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    routed = sum(
        s.value
        for metric in REGISTRY.collect()
        if metric.name == "triage_posts_routed"
        for s in metric.samples
        if s.name.endswith("_total")
    )
    values = {
        "routed": routed,
        "e2e_count": value("triage_end_to_end_latency_seconds_count"),
        "batch_sum": value("triage_inference_batch_size_sum"),
        "batch_count": value("triage_inference_batch_size_count"),
    }
    for _, reason in BAD_MESSAGES:
        values[f"dlq_{reason}"] = value("triage_dead_letters_total", reason=reason)
    return values


def _produce(kafka_settings, topic: str, values: list[tuple[bytes | None, bytes | None]]) -> dict:
    """Produce with confluent-kafka; returns {value index: (partition, offset)}."""
    from confluent_kafka import Producer

    producer = Producer({**kafka_settings.confluent_config(), "enable.idempotence": True})
    where: dict[int, tuple[int, int]] = {}
    for i, (key, value) in enumerate(values):

        def report(err, msg, i=i):  # noqa: ANN001 - confluent callback
            assert err is None, err
            where[i] = (msg.partition(), msg.offset())

        producer.produce(topic, key=key, value=value, partition=i % 3, on_delivery=report)
    assert producer.flush(30) == 0
    return where


def _consume_all(kafka_settings, topics: list[str], expected: int) -> dict[str, list]:
    """Read every routed topic with confluent-kafka until ``expected`` messages arrived."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            **kafka_settings.confluent_config(),
            "group.id": "test-reader",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    metadata = consumer.list_topics(timeout=10)
    consumer.assign(
        [
            TopicPartition(t, p, 0)  # offset 0 = from the beginning
            for t in topics
            for p in metadata.topics[t].partitions
        ]
    )
    out: dict[str, list] = {t: [] for t in topics}
    deadline = time.monotonic() + 30
    try:
        while sum(map(len, out.values())) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out[msg.topic()].append(msg)
    finally:
        consumer.close()
    return out


@pytest.mark.integration
def test_bounded_run_routes_every_post(kafka_settings, routing_model: Path, posts) -> None:
    topic, prefix = "e2e.posts", "e2e"
    from pipeline.kafka import ensure_topics

    ensure_topics(kafka_settings, [topic], partitions=3)
    values = [(p["id"].encode(), json.dumps(p).encode()) for p in posts]
    values += [(f"bad-{i}".encode(), v) for i, (v, _) in enumerate(BAD_MESSAGES)]
    where = _produce(kafka_settings, topic, values)
    before = _metric_values()

    code = main(
        [
            "run",
            "--bootstrap-servers", kafka_settings.bootstrap_servers,
            "--input-topic", topic,
            "--output-prefix", prefix,
            "--group-id", "e2e-job",
            "--model", str(routing_model),
            "--bounded",
            "--batch-size", "16",
            "--max-text-chars", str(MAX_TEXT_CHARS),
            "--multilingual-model", "none",
            "--runner=FnApiRunner",  # a Beam flag, passed through
        ]
    )  # fmt: skip
    assert code == 0
    after = _metric_values()
    delta = {name: after[name] - before[name] for name in after}
    assert delta["routed"] == len(posts)
    assert all(delta[f"dlq_{reason}"] == 1 for _, reason in BAD_MESSAGES)
    assert delta["e2e_count"] == len(posts)
    assert delta["batch_sum"] == len(posts) and delta["batch_count"] >= len(posts) / 16

    topics = [f"{prefix}.{route}" for route in ROUTES]
    out = _consume_all(kafka_settings, topics, expected=len(values))
    total = sum(map(len, out.values()))
    assert total == len(values)

    # Every input offset exactly once.
    seen = []
    for messages in out.values():
        seen += [
            (json.loads(m.value())["kafka"]["partition"], json.loads(m.value())["kafka"]["offset"])
            for m in messages
        ]
    assert sorted(seen) == sorted(where.values())

    package = ModelPackage.load(routing_model)
    direct = dict(
        zip(
            (p["id"] for p in posts),
            OnnxClassifier.from_path(routing_model).predict([p["text"] for p in posts]),
            strict=True,
        )
    )
    by_id = {p["id"]: p for p in posts}
    for route in ROUTES[:-1]:
        assert out[f"{prefix}.{route}"], f"no post was routed to {route}"
        for msg in out[f"{prefix}.{route}"]:
            value = json.loads(msg.value())
            post = by_id[value["id"]]
            assert msg.key() == post["id"].encode()
            assert {k: value[k] for k in post} == post  # the input post, untouched
            cls = value["classification"]
            assert cls["route"] == route
            lang = value["language"]["lang"]
            if "lang" in post:  # the post's own tag wins (else it was identified)
                assert value["language"]["source"] == "post" and lang == post["lang"]
            assert value["lang"] and value["cluster_id"] and value["cluster_size"] >= 1
            if lang not in ("en", "und"):  # no multilingual model here: review, with the reason
                assert route == "review" and cls["review_reason"] == f"unsupported_language:{lang}"
                continue
            assert cls["model"] == {"name": package.name, "version": package.version}
            assert list(cls["probabilities"]) == list(LABEL_ROUTES)
            assert abs(sum(cls["probabilities"].values()) - 1) < 1e-4
            floors = package.review_floors
            expected_route = choose_route(
                cls["label"], cls["probabilities"], package.thresholds, floors
            )
            assert route == expected_route
            expected = direct[post["id"]]
            margin = (
                sorted(expected.probabilities.values())[-1]
                - sorted(expected.probabilities.values())[-2]
            )
            if margin > 1e-3:
                assert cls["label"] == expected.label
            assert ISO_UTC.match(value["ingested_at"]) and ISO_UTC.match(value["routed_at"])
            assert value["ingested_at"] <= value["routed_at"]
            assert value["kafka"]["topic"] == topic
            if HAS_ENRICH:
                assert set(value["enrichment"]) >= {"resources", "location"}
            index = next(i for i, (k, _) in enumerate(values) if k == msg.key())
            assert (value["kafka"]["partition"], value["kafka"]["offset"]) == where[index]
    assert any(
        json.loads(m.value())["classification"]["label"] == "request"
        for m in out[f"{prefix}.review"]
    ), "the request threshold should send some requests to review"

    dead = out[f"{prefix}.dlq"]
    assert len(dead) == len(BAD_MESSAGES)
    for msg in dead:
        letter = json.loads(msg.value())
        index = int(msg.key().decode().removeprefix("bad-"))
        original, reason = BAD_MESSAGES[index]
        assert letter["reason"] == reason, letter
        assert letter["detail"]
        if "value_base64" in letter:
            assert base64.b64decode(letter["value_base64"]) == original
        else:
            assert (letter["value_utf8"] or "").encode() == (original or b"")
        partition, offset = where[len(posts) + index]
        assert letter["kafka"]["topic"] == topic
        assert (letter["kafka"]["partition"], letter["kafka"]["offset"]) == (partition, offset)
        assert ISO_UTC.match(letter["dead_lettered_at"])


def test_failed_inference_becomes_dead_letters() -> None:
    """RunInference's exception output (batch, (type, repr, traceback)) → one letter per post."""
    from pipeline.contract import Post
    from pipeline.transforms import _failed_batch_to_dead_letters

    posts = [
        Post({"id": f"p{i}", "text": f"t{i}"}, "in", 1, 10 + i, 1_700_000_000_000, "now")
        for i in range(2)
    ]
    error = (RuntimeError, "RuntimeError('ORT failed')", ["Traceback ..."])
    letters = list(_failed_batch_to_dead_letters("x", ([(p, p.text) for p in posts], error)))
    assert [m.topic for m in letters] == ["x.dlq", "x.dlq"]
    assert [m.key for m in letters] == [b"p0", b"p1"]
    letter = json.loads(letters[1].value)
    assert letter["reason"] == "inference_error"
    assert "ORT failed" in letter["detail"]
    assert json.loads(letter["value_utf8"]) == {"id": "p1", "text": "t1"}
    assert letter["kafka"] == {
        "topic": "in",
        "partition": 1,
        "offset": 11,
        "timestamp_ms": 1_700_000_000_000,
    }
