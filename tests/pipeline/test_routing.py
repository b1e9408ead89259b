"""Routing: label → route, thresholds → review, topic names, routed message shape."""

from __future__ import annotations

import pytest

from models.package import LABELS
from pipeline.contract import Post
from pipeline.routing import (
    LABEL_ROUTES,
    ROUTES,
    choose_route,
    output_topics,
    routed_message,
    topic_for,
)

THRESHOLDS = {"request": 0.5, "offer": 0.6, "emotional_support": 0.7, "other": 0.0}


def _probs(label: str, top: float) -> dict[str, float]:
    rest = (1.0 - top) / 3
    return {lab: (top if lab == label else rest) for lab in LABELS}


def test_every_label_has_a_route() -> None:
    assert set(LABEL_ROUTES) == set(LABELS)
    assert ROUTES == ("requests", "offers", "support", "other", "review", "dlq")


@pytest.mark.parametrize(
    ("label", "top", "route"),
    [
        ("request", 0.9, "requests"),
        ("request", 0.5, "requests"),  # at the threshold: confident enough
        ("request", 0.49, "review"),
        ("offer", 0.61, "offers"),
        ("offer", 0.59, "review"),
        ("emotional_support", 0.8, "support"),
        ("emotional_support", 0.69, "review"),
        ("other", 0.26, "other"),  # threshold 0: never reviewed
    ],
)
def test_thresholds_send_unsure_posts_to_review(label: str, top: float, route: str) -> None:
    assert choose_route(label, _probs(label, top), THRESHOLDS) == route


def test_missing_threshold_means_no_review() -> None:
    assert choose_route("offer", _probs("offer", 0.3), {}) == "offers"


def test_topics() -> None:
    assert topic_for("triage", "requests") == "triage.requests"
    assert output_topics("x") == [f"x.{route}" for route in ROUTES]
    with pytest.raises(ValueError, match="unknown route"):
        topic_for("x", "nowhere")


def test_routed_message_shape() -> None:
    post = Post(
        fields={"id": "p9", "text": "Offering rides to Ponce", "source": "twitter"},
        topic="posts",
        partition=1,
        offset=7,
        timestamp_ms=1_700_000_000_000,
        ingested_at="2026-11-24T02:00:00.000Z",
    )
    classification = {
        "label": "offer",
        "probabilities": _probs("offer", 0.7),
        "model": {"name": "m", "version": "1"},
    }
    message = routed_message(
        post, classification, "offers", "2026-11-24T02:00:00.050Z", {"resources": []}
    )
    assert message["id"] == "p9" and message["source"] == "twitter"
    assert message["classification"] == {**classification, "route": "offers"}
    assert message["enrichment"] == {"resources": []}
    assert message["ingested_at"] == "2026-11-24T02:00:00.000Z"
    assert message["routed_at"] == "2026-11-24T02:00:00.050Z"
    assert message["kafka"] == {
        "topic": "posts",
        "partition": 1,
        "offset": 7,
        "timestamp_ms": 1_700_000_000_000,
    }
    assert "enrichment" not in routed_message(post, classification, "offers", "t")
    assert post.fields == {"id": "p9", "text": "Offering rides to Ponce", "source": "twitter"}


def test_review_floor_keeps_a_possible_request_out_of_other() -> None:
    probs = {"request": 0.12, "offer": 0.03, "emotional_support": 0.05, "other": 0.80}
    thresholds = {"other": 0.35}
    assert choose_route("other", probs, thresholds) == "other"
    assert choose_route("other", probs, thresholds, {"request": 0.10}) == "review"
    assert choose_route("other", probs, thresholds, {"request": 0.15}) == "other"
    # A post routed to requests itself is not sent to review by its own floor.
    sure = {"request": 0.9, "offer": 0.05, "emotional_support": 0.0, "other": 0.05}
    assert choose_route("request", sure, {"request": 0.5}, {"request": 0.1}) == "requests"
