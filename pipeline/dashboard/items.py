"""What the dashboard shows: a routed Kafka message projected to a feed item, and feedback.

A feed item is a small JSON-ready dict (the browser gets exactly this): post id and text, the
predicted label and its probability, the route, resource types and location (from the job's
``enrichment``, or computed here when the job ran without it), event, times, Kafka position,
the responder's status (``open``, ``handled``, ``misclassified``), the post's ``lang`` and its
near-duplicate cluster (``cluster_id``, ``cluster_size`` from the job).
"""

from __future__ import annotations

from typing import Any

from models.package import LABELS
from pipeline.contract import utc_now_iso
from pipeline.enrich import enrich
from pipeline.feedback import FEEDBACK_ACTIONS, feedback_message

__all__ = ["FEEDBACK_ACTIONS", "feedback_message", "item_from_message", "utc_now_iso"]

# Routes whose posts appear in the feed; every routed topic feeds the per-minute counts.
FEED_ROUTES: tuple[str, ...] = ("requests", "offers", "review")
COUNT_ROUTES: tuple[str, ...] = ("requests", "offers", "support", "other", "review")
MAX_TEXT_CHARS = 2000  # longer posts are cut for display


def _model_name(model: Any) -> str | None:
    if isinstance(model, dict) and model.get("name"):
        version = model.get("version")
        return f"{model['name']}@{version}" if version else str(model["name"])
    return None


def item_from_message(
    value: dict[str, Any], route: str, timestamp_ms: int, position: tuple[str, int, int]
) -> dict[str, Any] | None:
    """A routed message → feed item, or None when it lacks an id, text or label."""
    classification = value.get("classification")
    post_id, text = value.get("id"), value.get("text")
    if not isinstance(classification, dict) or not isinstance(post_id, str):
        return None
    label = classification.get("label")
    if not isinstance(text, str) or label not in LABELS:
        return None
    probabilities = classification.get("probabilities")
    probabilities = probabilities if isinstance(probabilities, dict) else {}
    confidence = probabilities.get(label)
    enrichment = value.get("enrichment")
    if not isinstance(enrichment, dict):
        enrichment = enrich(value)
    location = enrichment.get("location")
    topic, partition, offset = position
    cluster_id, cluster_size = value.get("cluster_id"), value.get("cluster_size")
    lang, reason = value.get("lang"), classification.get("review_reason")
    return {
        "id": post_id,
        "lang": lang if isinstance(lang, str) else None,
        "cluster_id": cluster_id if isinstance(cluster_id, str) and cluster_id else None,
        "cluster_size": cluster_size if isinstance(cluster_size, int) else None,
        "text": text[:MAX_TEXT_CHARS],
        "label": label,
        "confidence": float(confidence) if isinstance(confidence, (int, float)) else None,
        "probabilities": {
            k: float(v)
            for k, v in probabilities.items()
            if k in LABELS and isinstance(v, (int, float))
        },
        "route": classification.get("route") or route,
        "review_reason": reason if isinstance(reason, str) else None,
        "model": _model_name(classification.get("model")),
        "resources": [r for r in enrichment.get("resources", []) if isinstance(r, str)],
        "location": location if isinstance(location, dict) else None,
        "event": value.get("event") if isinstance(value.get("event"), str) else None,
        "created_at": value.get("created_at") if isinstance(value.get("created_at"), str) else None,
        "routed_at": value.get("routed_at") if isinstance(value.get("routed_at"), str) else None,
        "ts": int(timestamp_ms),
        "kafka": {"topic": topic, "partition": partition, "offset": offset},
        "status": "open",
        "corrected_label": None,
    }
