"""The feedback wire format: written by the dashboard, parsed by `triage learn`."""

from __future__ import annotations

import json

import pytest

from pipeline.feedback import (
    InvalidFeedback,
    feedback_message,
    labelled_posts,
    parse_feedback,
)

ITEM = {
    "id": "p1",
    "text": "we need water on 5th street",
    "label": "other",
    "route": "review",
    "model": "triage-tiny@1.4.0",
    "probabilities": {"request": 0.4, "offer": 0.1, "emotional_support": 0.1, "other": 0.4},
}


def test_a_dashboard_message_round_trips_to_a_label() -> None:
    message = feedback_message(ITEM, "misclassified", "request", at="2026-11-30T00:00:00Z")
    assert message["confirmed"] is False and message["probabilities"]["request"] == 0.4
    post = parse_feedback(json.dumps(message).encode())
    assert (post.post_id, post.label, post.action) == ("p1", "request", "misclassified")
    confirmed = feedback_message(ITEM, "confirmed", None)
    assert confirmed["confirmed"] is True
    assert parse_feedback(confirmed).label == "other"  # the prediction, confirmed
    handled_in_topic = {**ITEM, "route": "other"}
    assert parse_feedback(feedback_message(handled_in_topic, "handled", None)).label == "other"
    with pytest.raises(InvalidFeedback, match="handled_in_review"):
        parse_feedback(feedback_message(ITEM, "handled", None))  # in doubt: no label


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b"\xff\xfe", "invalid_json"),
        (json.dumps({"action": "confirmed", "text": "t"}), "missing_post_id"),
        (json.dumps({"post_id": "a", "action": "confirmed", "text": " "}), "missing_text"),
        (json.dumps({"post_id": "a", "action": "maybe", "text": "t"}), "unknown_action"),
        (
            json.dumps({"post_id": "a", "action": "misclassified", "text": "t"}),
            "no_corrected_label",
        ),
        (
            json.dumps(
                {"post_id": "a", "action": "misclassified", "text": "t", "corrected_label": "x"}
            ),
            "unknown_label",
        ),
        (
            json.dumps({"post_id": "a", "action": "confirmed", "text": "t", "predicted_label": 3}),
            "unknown_label",
        ),
    ],
)
def test_unusable_messages_name_their_reason(value, reason: str) -> None:
    with pytest.raises(InvalidFeedback) as info:
        parse_feedback(value)
    assert info.value.reason == reason


def test_bad_messages_are_counted_and_the_latest_label_per_post_wins() -> None:
    first = feedback_message(ITEM, "misclassified", "offer")
    second = feedback_message(ITEM, "misclassified", "request")
    other = feedback_message({**ITEM, "id": "p2"}, "confirmed", None)
    posts, skipped = labelled_posts([first, b"garbage", other, second, b"{}"])
    assert [(p.post_id, p.label) for p in posts] == [("p2", "other"), ("p1", "request")]
    assert skipped == {"invalid_json": 1, "missing_post_id": 1}


def test_the_dashboard_cannot_write_an_inconsistent_message() -> None:
    with pytest.raises(ValueError, match="no corrected label"):
        feedback_message(ITEM, "confirmed", "offer")
    with pytest.raises(ValueError, match="action must be one of"):
        feedback_message(ITEM, "liked", None)
