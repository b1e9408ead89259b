"""A model's operating point on labelled posts, scored the way responders meet it.

Posts are routed by the streaming job's own rule (:func:`pipeline.routing.choose_route`: the
argmax label's topic, or ``review`` when its probability is below that label's threshold from
the package). Per label (``request``, ``offer``):

- ``precision`` / ``recall`` / ``f1`` of the label's topic at the operating point;
- ``average_precision`` of ranking posts by P(label) (threshold-free);
- ``recall_at_precision``: the most true posts a cut on P(label) finds while keeping precision
  ≥ ``PRECISION_FLOOR`` (0.60);
- ``reach``: the share of true posts that land in the label's topic *or* in ``review``;

and ``review_share``: the review queue's share of all posts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.package import LABELS

PRECISION_FLOOR = 0.60
SCORED_LABELS: tuple[str, ...] = ("request", "offer")
LABEL_METRICS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "average_precision",
    "recall_at_precision",
    "reach",
)


def routes(
    probabilities: np.ndarray,
    thresholds: Mapping[str, float],
    review_floors: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The route of each post (``[n, 4]`` probabilities in ``LABELS`` order), as the job
    routes it."""
    from pipeline.routing import choose_route

    out = []
    for row in np.asarray(probabilities, dtype=float):
        label = LABELS[int(row.argmax())]
        probs = dict(zip(LABELS, row.tolist(), strict=True))
        out.append(choose_route(label, probs, thresholds, review_floors))
    return np.array(out, dtype=object)


def recall_at_precision(truth: np.ndarray, score: np.ndarray, floor: float) -> float:
    """Highest recall of a cut on ``score`` whose precision is ≥ ``floor`` (0 if none; NaN
    without true posts)."""
    from sklearn.metrics import precision_recall_curve

    if not truth.any():
        return math.nan
    precision, recall, _ = precision_recall_curve(truth, score)
    ok = precision >= floor
    return float(recall[ok].max()) if ok.any() else 0.0


def _ratio(num: int, den: int, empty: float) -> float:
    return num / den if den else empty


def label_scores(
    gold: np.ndarray,
    probabilities: np.ndarray,
    route: np.ndarray,
    label: str,
    floor: float = PRECISION_FLOOR,
) -> dict[str, Any]:
    """One label's numbers at the operating point (see the module docstring)."""
    from sklearn.metrics import average_precision_score

    from pipeline.routing import LABEL_ROUTES, REVIEW

    truth = gold == label
    topic = route == LABEL_ROUTES[label]
    hits = int((truth & topic).sum())
    support = int(truth.sum())
    precision = _ratio(hits, int(topic.sum()), 0.0)
    recall = _ratio(hits, support, math.nan)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    score = probabilities[:, LABELS.index(label)]
    reached = int((truth & (topic | (route == REVIEW))).sum())
    return {
        "support": support,
        "routed": int(topic.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1 if support else math.nan,
        "average_precision": float(average_precision_score(truth, score)) if support else math.nan,
        "recall_at_precision": recall_at_precision(truth, score, floor),
        "reach": _ratio(reached, support, math.nan),
    }


def operating_point_scores(
    gold: Sequence[str],
    probabilities: np.ndarray,
    thresholds: Mapping[str, float],
    labels: Sequence[str] = SCORED_LABELS,
    floor: float = PRECISION_FLOOR,
    review_floors: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Route every post, then score ``labels`` and the review queue on these posts."""
    from pipeline.routing import REVIEW

    gold_array = np.asarray(gold, dtype=object)
    probabilities = np.asarray(probabilities, dtype=float)
    route = routes(probabilities, thresholds, review_floors)
    names, counts = np.unique(route, return_counts=True) if len(route) else ([], [])
    return {
        "n": len(gold_array),
        "review_share": float((route == REVIEW).mean()) if len(route) else math.nan,
        "routes": {str(k): int(v) for k, v in zip(names, counts, strict=True)},
        "labels": {
            label: label_scores(gold_array, probabilities, route, label, floor) for label in labels
        },
    }


def macro_mean(folds: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Unweighted mean over folds of every metric (folds without true posts of a label skip
    that label's recall-type numbers)."""

    def mean(values: list[float]) -> float:
        kept = [v for v in values if not math.isnan(v)]
        return float(np.mean(kept)) if kept else math.nan

    scores = list(folds.values())
    labels = scores[0]["labels"] if scores else {}
    return {
        "folds": len(scores),
        "review_share": mean([s["review_share"] for s in scores]),
        "labels": {
            label: {m: mean([s["labels"][label][m] for s in scores]) for m in LABEL_METRICS}
            for label in labels
        },
    }


def request_review_floor(
    gold: Sequence[str],
    probabilities: np.ndarray,
    thresholds: Mapping[str, float],
    min_reach: float = 0.9,
    label: str = "request",
) -> tuple[float | None, dict[str, Any]]:
    """The highest review floor for ``label`` with which at least ``min_reach`` of its true posts
    reach its topic or review, on the posts given (dev only, never a test crisis).

    Returns (floor, scores at that floor); floor None when the thresholds alone reach it.
    """
    gold_array = np.asarray(gold, dtype=object)
    probabilities = np.asarray(probabilities, dtype=float)
    base = operating_point_scores(gold_array, probabilities, thresholds, labels=(label,))
    if base["labels"][label]["reach"] >= min_reach:
        return None, base
    truth = probabilities[gold_array == label, LABELS.index(label)]
    # rounded down to 4 digits, so that the post a candidate comes from still reaches it
    candidates = {math.floor(float(p) * 10_000) / 10_000 for p in truth}
    for candidate in sorted(candidates, reverse=True):
        floors = {label: candidate}
        scores = operating_point_scores(
            gold_array, probabilities, thresholds, labels=(label,), review_floors=floors
        )
        if scores["labels"][label]["reach"] >= min_reach:
            return candidate, scores
    return 0.0, operating_point_scores(
        gold_array, probabilities, thresholds, labels=(label,), review_floors={label: 0.0}
    )
