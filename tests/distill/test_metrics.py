"""Task rules and scores on hand-made predictions with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from distill import metrics
from distill.metrics import paired_bootstrap, score_task
from models.errors import TriageError
from models.package import LABELS


def probs(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def test_score_known_macro_f1():
    gold = ["request", "request", "offer", "offer"]
    pred = ["request", "offer", "offer", "offer"]
    result = metrics.score(gold, pred, ["request", "offer"])
    # request: P=1, R=0.5, F1=2/3; offer: P=2/3, R=1, F1=0.8
    assert result["per_label"]["request"]["f1"] == pytest.approx(2 / 3)
    assert result["per_label"]["offer"]["precision"] == pytest.approx(2 / 3)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["confusion"] == [[1, 1], [0, 2]]


def test_macro_f1_counts_labels_never_predicted():
    gold = ["request", "offer", "emotional_support", "other"]
    pred = ["request", "request", "request", "request"]
    result = metrics.score(gold, pred, metrics.task_labels("4way"))
    assert result["per_label"]["other"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx((2 * 1 * 0.25 / 1.25) / 4)


def test_4way_is_argmax_in_label_order():
    p = probs((0.1, 0.2, 0.6, 0.1), (0.4, 0.1, 0.1, 0.4))
    assert metrics.task_predictions(p, "4way") == ["emotional_support", "request"]


def test_actionable_uses_request_plus_offer_mass():
    # argmax is "other", but request + offer = 0.6: actionable
    p = probs((0.3, 0.3, 0.0, 0.4), (0.2, 0.2, 0.1, 0.5))
    assert metrics.task_predictions(p, "actionable") == ["actionable", "not_actionable"]


def test_informative_counts_emotional_support():
    p = probs((0.0, 0.0, 0.6, 0.4), (0.1, 0.1, 0.1, 0.7))
    assert metrics.task_predictions(p, "informative") == ["informative", "not_informative"]


def test_binary_gold_normalised_and_scored():
    gold = ["actionable", "not", "not_actionable", "actionable"]
    p = probs((0.9, 0, 0, 0.1), (0, 0, 0, 1), (0.6, 0, 0, 0.4), (0, 0, 0, 1))
    result = metrics.score_task(gold, p, "actionable")
    assert result["labels"] == ["actionable", "not_actionable"]
    assert result["confusion"] == [[1, 1], [1, 1]]
    assert result["macro_f1"] == pytest.approx(0.5)


def test_bad_inputs_raise():
    with pytest.raises(TriageError):
        metrics.task_labels("sentiment")
    with pytest.raises(TriageError):
        metrics.normalize_gold(["request", "donation"], "4way")
    with pytest.raises(ValueError):
        metrics.task_predictions(np.ones((2, 3)), "4way")
    with pytest.raises(ValueError):
        metrics.score(["request"], [], ["request"])


def test_paired_bootstrap_matches_scikit_learn_and_brackets_the_difference():
    rng = np.random.default_rng(1)
    gold = list(rng.choice(list(LABELS), 600))
    better = np.eye(4)[[LABELS.index(g) for g in gold]] * 0.6 + rng.dirichlet(np.ones(4), 600) * 0.4
    worse = rng.dirichlet(np.ones(4), 600)
    for task in ("4way", "actionable", "informative"):
        cmp = paired_bootstrap(gold, better, worse, task, reps=300)
        expected = (
            score_task(gold, better, task)["macro_f1"] - score_task(gold, worse, task)["macro_f1"]
        )
        assert cmp["delta"] == pytest.approx(expected)
        assert cmp["ci95_low"] <= cmp["delta"] <= cmp["ci95_high"]
    assert paired_bootstrap(gold, better, worse, "4way")["ci95_low"] > 0  # clearly better
    same = paired_bootstrap(gold, worse, worse, "4way", reps=50)
    assert same == {"delta": 0.0, "ci95_low": 0.0, "ci95_high": 0.0}


def test_accuracy_by_source_label_shows_which_scheme_is_misread():
    gold = ["actionable", "actionable", "actionable", "not", "not"]
    source = ["Aid Provided", "Aid Provided", "Needs", "Not Informative", "Not Informative"]
    p = probs(
        (0.1, 0.2, 0.0, 0.7),  # aid report read as other: wrong
        (0.1, 0.6, 0.0, 0.3),  # right
        (0.9, 0.0, 0.0, 0.1),  # right
        (0.0, 0.1, 0.0, 0.9),  # right
        (0.4, 0.3, 0.0, 0.3),  # wrong (0.7 >= 0.5)
    )
    by_label = metrics.accuracy_by_source_label(gold, p, "actionable", source)
    assert list(by_label) == ["Aid Provided", "Not Informative", "Needs"]  # most posts first
    assert by_label["Aid Provided"] == {"n": 2, "gold": "actionable", "accuracy": 0.5}
    assert by_label["Not Informative"] == {"n": 2, "gold": "not_actionable", "accuracy": 0.5}
    assert by_label["Needs"]["accuracy"] == 1.0
