"""Calibration on dev: one temperature for the softmax, one review threshold per label."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.package import LABELS

# Precision each label's routed topic must keep on dev; lower-confidence predictions go to review.
# A missed request costs more than a false alarm, so requests (then offers) are routed at lower
# confidence: the review queue holds only the really uncertain posts, not most requests.
REVIEW_TARGET_PRECISION: dict[str, float] = {
    "request": 0.6,
    "offer": 0.7,
    "emotional_support": 0.8,
    "other": 0.8,
}


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising dev negative log-likelihood (grid 0.25–8, then refined)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = min(grid, key=lambda t: _nll(logits, labels, t))
    fine = np.linspace(best * 0.9, best * 1.1, 21)
    return round(float(min(fine, key=lambda t: _nll(logits, labels, t))), 4)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def review_thresholds(
    probs: np.ndarray,
    labels: np.ndarray,
    target_precision: float | Mapping[str, float] = REVIEW_TARGET_PRECISION,
    min_support: int = 10,
) -> tuple[dict[str, float], dict[str, dict]]:
    """Per label, the lowest confidence from which the precision of that predicted label on dev
    stays ≥ its target (one float for all labels, or a per-label mapping; predictions below
    it go to the review queue).

    If no cut reaches the target with ``min_support`` predictions, the cut with the best
    precision is used. Returns (thresholds, per-label report: precision, coverage, support).
    """
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    thresholds: dict[str, float] = {}
    report: dict[str, dict] = {}
    for k, label in enumerate(LABELS):
        target = (
            target_precision[label]
            if isinstance(target_precision, Mapping)
            else float(target_precision)
        )
        mask = pred == k
        c, correct = conf[mask], (labels[mask] == k)
        order = np.argsort(-c)
        c, correct = c[order], correct[order]
        if len(c) == 0:
            thresholds[label] = 1.0
            report[label] = {"precision": None, "coverage": 0.0, "support": 0}
            continue
        precision_at = np.cumsum(correct) / np.arange(1, len(c) + 1)  # top-i predictions
        ok = np.where((precision_at >= target) & (np.arange(1, len(c) + 1) >= min_support))[0]
        if len(ok):
            # the largest confident set whose precision still meets the target
            i = int(ok.max())
        else:
            candidates = np.arange(min(min_support, len(c)) - 1, len(c))
            i = int(candidates[np.argmax(precision_at[candidates])])
        thresholds[label] = round(float(c[i]), 4)
        report[label] = {
            "precision": round(float(precision_at[i]), 4),
            "coverage": round(float((i + 1) / len(c)), 4),
            "support": int(len(c)),
        }
    return thresholds, report


def _catch_options(conf: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """For one predicted label: sending its posts with confidence ≤ the j-th lowest confidence
    of a true post to review catches ``gain[j]`` true posts at ``cost[j]`` posts (j = 0: none).
    Also returns the threshold of each option."""
    cuts = np.unique(conf[positive])
    gain = np.concatenate([[0], np.searchsorted(np.sort(conf[positive]), cuts, side="right")])
    cost = np.concatenate([[0], np.searchsorted(np.sort(conf), cuts, side="right")])
    return gain, cost, [0.0] + [_just_above(float(c)) for c in cuts]


def _just_above(value: float) -> float:
    """The smallest 4-decimal threshold above ``value`` (so ``value`` goes to review)."""
    threshold = round(float(np.floor(value * 1e4)) / 1e4, 4)
    while threshold <= value:
        threshold = round(threshold + 1e-4, 4)
    return threshold


def _cheapest_catch(options: list[tuple[np.ndarray, np.ndarray]], need: int) -> list[int]:
    """Pick one option per label so the gains sum to ≥ ``need`` at the least total cost
    (knapsack over the capped gain); returns the chosen option index per label."""
    best = np.full(need + 1, np.inf)
    best[0] = 0.0
    picks = []
    for gain, cost in options:
        new = np.full(need + 1, np.inf)
        pick = np.zeros((need + 1, 2), dtype=int)
        for j, (g, c) in enumerate(zip(gain, cost, strict=True)):
            for have in np.nonzero(np.isfinite(best))[0]:
                reach = min(need, have + g)
                if best[have] + c < new[reach]:
                    new[reach], pick[reach] = best[have] + c, (have, j)
        best = new
        picks.append(pick)
    chosen, at = [], need
    for pick in reversed(picks):
        at, j = pick[at]
        chosen.append(int(j))
    return chosen[::-1]


def _own_threshold(
    probs: np.ndarray, labels: np.ndarray, label: str, precision: float | None
) -> float:
    """The protected label's own threshold: 0, or the precision rule's cut for ``precision``."""
    if precision is None:
        return 0.0
    targets = {**REVIEW_TARGET_PRECISION, label: precision}
    return review_thresholds(probs, labels, targets)[0][label]


def request_first_thresholds(
    probs: np.ndarray,
    labels: np.ndarray,
    min_recall: float = 0.9,
    protect: str = "request",
    protect_precision: float | None = None,
) -> tuple[dict[str, float], dict]:
    """Review thresholds by the responders' rule, on dev: at least ``min_recall`` of the true
    ``protect`` posts reach its topic or the review queue, and among the thresholds that do, the
    smallest review queue.

    A true request predicted as another label reaches review only through that label's
    threshold, so those thresholds are raised: the combination with the smallest queue is found
    exactly (a knapsack over the cuts just above true requests' confidences). The request
    threshold moves posts only between ``requests`` and review: 0 (every predicted request is
    routed), or with ``protect_precision`` the precision rule of :func:`review_thresholds`.
    Fit it on dev probabilities only, never on a test crisis. Returns (thresholds, report: dev
    reach, review share and the topic's precision, measured with the job's routing).
    """
    from distill.operating_point import label_scores, routes

    k = LABELS.index(protect)
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    positive = labels == k
    need = int(np.ceil(min_recall * positive.sum())) - int((positive & (pred == k)).sum())
    others = [i for i in range(len(LABELS)) if i != k]
    options = [_catch_options(conf[pred == i], positive[pred == i]) for i in others]
    chosen = (
        _cheapest_catch([(gain, cost) for gain, cost, _ in options], need)
        if need > 0
        else [0] * len(others)
    )
    thresholds = {protect: _own_threshold(probs, labels, protect, protect_precision)}
    for i, (_, _, cuts), j in zip(others, options, chosen, strict=True):
        thresholds[LABELS[i]] = cuts[j]
    thresholds = {label: thresholds[label] for label in LABELS}
    route = routes(probs, thresholds)
    scores = label_scores(np.array(LABELS, dtype=object)[labels], probs, route, protect)
    report = {
        "rule": f"{protect}: reach (topic or review) >= {min_recall} on dev, then the smallest "
        "review share",
        "reach": round(scores["reach"], 4),
        "review_share": round(float((route == "review").mean()), 4),
        "precision": round(scores["precision"], 4),
        "support": scores["support"],
    }
    return thresholds, report
