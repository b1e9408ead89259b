"""Where a classified post goes: route names, topic names and the routed message's shape.

Routes: ``requests``, ``offers``, ``support``, ``other`` by predicted label; ``review`` when
the model's decision says so (``models.decision``: the top probability is below that label's
threshold, or another label's probability reaches its review floor; both come from the model
package that classified the post, so a possible request is never filed under ``other``), or
when the post's language is one no model reads (``review_reason`` ``unsupported_language:<lang>``:
such a post is never silently filed under ``other``); ``dlq`` for messages that break the
contract. Topic = ``<prefix>.<route>``.

The routed message (:func:`routed_message`) is the one wire format of a routed post, read by the
dashboard, the watcher and the benchmarks: the post's own fields, then ``lang`` (the post's own
tag, untouched, when it names a language; else the identified one, ``und`` when unsure),
``language`` (``lang``: the primary subtag routing used, ``source``: post or detected,
``confidence``), ``cluster_id`` and ``cluster_size`` (its near-duplicate cluster: the id of the
cluster's first post and its posts so far), ``classification`` (label, probabilities, model,
route, and ``review_reason`` when set), ``enrichment``, ``ingested_at``, ``routed_at`` and
``kafka`` (where the input came from).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.decision import review_reason
from models.runtime import Prediction
from pipeline.contract import Post
from pipeline.language import LanguageGuess
from pipeline.near_duplicates import ClusterRef

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
    *,
    language: LanguageGuess | None = None,
    cluster: ClusterRef | None = None,
) -> dict[str, Any]:
    """The routed value (see module docstring)."""
    message = dict(post.fields)
    if language is not None:
        if language.source != "post":  # the post's own tag is kept as written
            message["lang"] = language.lang
        message["language"] = {
            "lang": language.lang,
            "source": language.source,
            "confidence": language.confidence,
        }
    if cluster is not None:
        message["cluster_id"] = cluster.cluster_id
        message["cluster_size"] = cluster.cluster_size
    message["classification"] = {**classification, "route": route}
    if enrichment is not None:
        message["enrichment"] = enrichment
    message["ingested_at"] = post.ingested_at
    message["routed_at"] = routed_at
    message["kafka"] = post.kafka_ref()
    return message
