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
