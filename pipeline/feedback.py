"""The feedback wire format (``<prefix>.feedback``): what responders said about a routed post.

Written by the dashboard, read by ``triage learn`` (from Kafka or a JSONL file): one definition.
A message holds ``post_id``, ``action``, ``corrected_label`` (a label or null), ``confirmed``
(the prediction was right), ``predicted_label``, ``probabilities`` (the model's, when known),
``route``, ``model`` ("name@version"), ``text`` (so learning needs nothing else), ``at``
(ISO-8601 UTC) and ``source``.

Actions: ``confirmed`` (the predicted label is right), ``handled`` (a responder acted on it: the
prediction was right enough), ``misclassified`` (with ``corrected_label``: the right label).
The training label is the corrected label, or the predicted label when confirmed or handled.
A post handled from the review queue gives no label: it is there because its top label is in
doubt (a ``possible_request`` is by definition not predicted ``request``), so "handled" says
nothing about which label is right (skipped as ``handled_in_review``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from models.package import LABELS
from pipeline.contract import utc_now_iso

FEEDBACK_ACTIONS: tuple[str, ...] = ("confirmed", "handled", "misclassified")
FEEDBACK_ROUTE = "feedback"  # topic <prefix>.feedback
MAX_FEEDBACK_TEXT_CHARS = 2000


def feedback_topic(prefix: str) -> str:
    return f"{prefix}.{FEEDBACK_ROUTE}"


def feedback_message(
    item: Mapping[str, Any], action: str, corrected_label: str | None, at: str | None = None
) -> dict[str, Any]:
    """The value written to ``<prefix>.feedback`` for a feed item (see the module docstring)."""
    if action not in FEEDBACK_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(FEEDBACK_ACTIONS)}")
    if corrected_label is not None and corrected_label not in LABELS:
        raise ValueError(f"corrected_label must be one of {', '.join(LABELS)}")
    if action != "misclassified" and corrected_label is not None:
        raise ValueError(f"a {action} item has no corrected label")
    probabilities = item.get("probabilities")
    return {
        "post_id": item["id"],
        "action": action,
        "corrected_label": corrected_label,
        "confirmed": action == "confirmed",
        "predicted_label": item["label"],
        "probabilities": dict(probabilities) if isinstance(probabilities, Mapping) else None,
        "route": item["route"],
        "model": item["model"],
        "text": item["text"],
        "at": at or utc_now_iso(),
        "source": "dashboard",
    }


@dataclass(frozen=True)
class LabelledPost:
    """One post with the label people gave it (the input of ``triage learn``)."""

    post_id: str
    text: str
    label: str
    action: str
    model: str | None
    at: str


class InvalidFeedback(ValueError):
    """A feedback message that cannot be used; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def parse_feedback(value: bytes | str | Mapping[str, Any]) -> LabelledPost:
    """One feedback message → LabelledPost; InvalidFeedback (with a reason) when unusable."""
    if isinstance(value, (bytes, str)):
        try:
            value = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidFeedback("invalid_json", str(exc)[:80]) from None
    if not isinstance(value, Mapping):
        raise InvalidFeedback("not_an_object")
    post_id, text, action = value.get("post_id"), value.get("text"), value.get("action")
    if not isinstance(post_id, str) or not post_id:
        raise InvalidFeedback("missing_post_id")
    if not isinstance(text, str) or not text.strip():
        raise InvalidFeedback("missing_text")
    if action not in FEEDBACK_ACTIONS:
        raise InvalidFeedback("unknown_action", repr(action)[:40])
    corrected = value.get("corrected_label")
    if corrected is not None and corrected not in LABELS:
        raise InvalidFeedback("unknown_label", repr(corrected)[:40])
    label = corrected if corrected is not None else value.get("predicted_label")
    if action == "misclassified" and corrected is None:
        raise InvalidFeedback("no_corrected_label")
    if action == "handled" and value.get("route") == "review":
        raise InvalidFeedback("handled_in_review")
    if label not in LABELS:
        raise InvalidFeedback("unknown_label", repr(label)[:40])
    model = value.get("model") if isinstance(value.get("model"), str) else None
    at = value.get("at") if isinstance(value.get("at"), str) else ""
    return LabelledPost(post_id, text[:MAX_FEEDBACK_TEXT_CHARS], label, action, model, at)


def labelled_posts(values: Iterable[Any]) -> tuple[list[LabelledPost], Counter]:
    """Every usable label, one per post (the latest message wins), and skipped counts by reason."""
    latest: dict[str, LabelledPost] = {}
    skipped: Counter = Counter()
    for value in values:
        try:
            post = parse_feedback(value)
        except InvalidFeedback as exc:
            skipped[exc.reason] += 1
            continue
        latest.pop(post.post_id, None)  # re-insert: order follows the latest message
        latest[post.post_id] = post
    return list(latest.values()), skipped
