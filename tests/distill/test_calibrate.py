"""Calibration: temperature fit and per-label review thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from distill.calibrate import (
    fit_temperature,
    request_first_thresholds,
    review_thresholds,
    softmax,
)
from distill.operating_point import label_scores, routes
from models.package import LABELS


def _confident_then_noisy(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions whose correctness rises with confidence (like a real classifier)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    conf = rng.uniform(0.3, 1.0, n)
    correct = rng.uniform(0, 1, n) < conf  # higher confidence → more often right
    pred = np.where(correct, labels, (labels + 1) % 4)
    probs = np.full((n, 4), 0.0)
    probs[np.arange(n), pred] = conf
    for k in range(4):
        probs[:, k] += np.where(pred == k, 0.0, (1 - conf) / 3)
    return probs, labels


def test_thresholds_meet_each_labels_target_precision():
    probs, labels = _confident_then_noisy()
    targets = {"request": 0.6, "offer": 0.7, "emotional_support": 0.75, "other": 0.8}
    thresholds, report = review_thresholds(probs, labels, targets)
    pred, conf = probs.argmax(1), probs.max(1)
    for k, label in enumerate(targets):
        kept = (pred == k) & (conf >= thresholds[label])
        assert kept.sum() >= 10
        assert (labels[kept] == k).mean() >= targets[label] - 1e-9
        assert report[label]["precision"] >= targets[label] - 1e-9
    # a stricter target can only raise the threshold (fewer posts routed, more to review)
    assert thresholds["other"] >= review_thresholds(probs, labels, 0.6)[0]["other"]


def test_temperature_softens_overconfident_logits():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 500)
    logits = rng.normal(0, 1, (500, 4))
    logits[np.arange(500), labels] += 1.0
    overconfident = logits * 5
    t = fit_temperature(overconfident, labels)
    assert t > 2.0
    assert np.allclose(softmax(overconfident, t).sum(1), 1.0)


def _reach_and_review(probs, labels, thresholds):
    route = routes(probs, thresholds)
    gold = np.array(LABELS, dtype=object)[labels]
    return label_scores(gold, probs, route, "request")["reach"], (route == "review").mean()


def test_request_first_rule_reaches_the_recall_with_the_smallest_review_queue():
    probs, labels = _confident_then_noisy(n=120, seed=3)
    thresholds, report = request_first_thresholds(probs, labels, min_recall=0.9)
    reach, review = _reach_and_review(probs, labels, thresholds)
    assert reach >= 0.9 and report["reach"] == round(reach, 4)
    assert report["review_share"] == round(review, 4) and thresholds["request"] == 0.0
    # exhaustive search over every cut of every other label: nothing meets the rule with a
    # smaller queue (oracle: review = top probability below its label's threshold)
    pred, conf = probs.argmax(1), probs.max(1)
    cuts = [sorted({0.0, *(conf[pred == k] + 1e-9)}) for k in (1, 2, 3)]
    best = 1.0
    for t in itertools.product(*cuts):
        queued = conf < np.array((0.0, *t))[pred]
        if (queued | (pred == 0))[labels == 0].mean() >= 0.9:
            best = min(best, queued.mean())
    assert review == pytest.approx(best)
    # a looser rule never needs a longer queue; a precision target moves requests to review
    assert request_first_thresholds(probs, labels, min_recall=0.5)[1]["review_share"] <= review
    strict, _ = request_first_thresholds(probs, labels, protect_precision=0.9)
    assert strict["request"] > 0.0 and _reach_and_review(probs, labels, strict)[0] >= 0.9
