"""What the dashboard shows: a routed Kafka message projected to a feed item, and feedback.

A feed item is a small JSON-ready dict (the browser gets exactly this): post id and text, the
predicted label and its probability, the route, resource types and location (from the job's
``enrichment``, or computed here when the job ran without it), event, times, Kafka position,
the responder's status (``open``, ``handled``, ``misclassified``), the post's ``lang`` and its
near-duplicate cluster (``cluster_id``, ``cluster_size`` from the job).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from models.package import LABELS
from pipeline.enrich import enrich

# Routes whose posts appear in the feed; every routed topic feeds the per-minute counts.
FEED_ROUTES: tuple[str, ...] = ("requests", "offers", "review")
COUNT_ROUTES: tuple[str, ...] = ("requests", "offers", "support", "other", "review")
FEEDBACK_ACTIONS: tuple[str, ...] = ("handled", "misclassified")
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


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def feedback_message(
    item: dict[str, Any], action: str, corrected_label: str | None, at: str | None = None
) -> dict[str, Any]:
    """The value written to ``<prefix>.feedback``: the retraining loop's input.

    ``post_id``, ``action`` (handled | misclassified), ``corrected_label`` (a label or None),
    ``predicted_label``, ``route``, ``model`` ("name@version"), ``text`` (so a retraining job
    needs nothing else), ``at`` (ISO-8601 UTC) and ``source`` ("dashboard").
    """
    if action not in FEEDBACK_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(FEEDBACK_ACTIONS)}")
    if corrected_label is not None and corrected_label not in LABELS:
        raise ValueError(f"corrected_label must be one of {', '.join(LABELS)}")
    if action == "handled" and corrected_label is not None:
        raise ValueError("a handled item has no corrected label")
    return {
        "post_id": item["id"],
        "action": action,
        "corrected_label": corrected_label,
        "predicted_label": item["label"],
        "route": item["route"],
        "model": item["model"],
        "text": item["text"],
        "at": at or utc_now_iso(),
        "source": "dashboard",
    }
