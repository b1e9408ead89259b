"""Where a classified post goes: route names, topic names and the routed message's shape.

Routes: ``requests``, ``offers``, ``support``, ``other`` by predicted label; ``review`` when
the model's decision says so (``models.decision``: the top probability is below that label's
threshold, or another label's probability reaches its review floor; both come from the model
package that classified the post, so a possible request is never filed under ``other``);
``dlq`` for messages that break the contract. Topic = ``<prefix>.<route>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.decision import review_reason
from models.runtime import Prediction
from pipeline.contract import Post

LABEL_ROUTES: dict[str, str] = {
    "request": "requests",
    "offer": "offers",
    "emotional_support": "support",
    "other": "other",
}
REVIEW = "review"
DLQ = "dlq"
ROUTES: tuple[str, ...] = (*LABEL_ROUTES.values(), REVIEW, DLQ)


def topic_for(prefix: str, route: str) -> str:
    """``<prefix>.<route>``."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; routes are {', '.join(ROUTES)}")
    return f"{prefix}.{route}"


def output_topics(prefix: str) -> list[str]:
    """Every topic the job writes to, in route order."""
    return [topic_for(prefix, route) for route in ROUTES]


def choose_route(
    label: str,
    probabilities: Mapping[str, float],
    thresholds: Mapping[str, float],
    review_floors: Mapping[str, float] | None = None,
) -> str:
    """The label's route, or ``review`` when its probability is below the label's threshold or
    another label's probability is at or above that label's review floor."""
    if review_reason(label, probabilities, thresholds, review_floors) is not None:
        return REVIEW
    return LABEL_ROUTES.get(label, "other")


def route_of(prediction: Prediction) -> str:
    """The route of a classified post: review when its model said so, else its label's."""
    if prediction.review_reason is not None:
        return REVIEW
    return LABEL_ROUTES.get(prediction.label, "other")


def routed_message(
    post: Post,
    classification: Mapping[str, Any],
    route: str,
    routed_at: str,
    enrichment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The routed value: the post's own fields plus classification, times and its Kafka origin."""
    message = dict(post.fields)
    message["classification"] = {**classification, "route": route}
    if enrichment is not None:
        message["enrichment"] = enrichment
    message["ingested_at"] = post.ingested_at
    message["routed_at"] = routed_at
    message["kafka"] = post.kafka_ref()
    return message
