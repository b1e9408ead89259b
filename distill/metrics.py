"""Task rules and scores: 4-way probabilities → task predictions → macro-F1 and per-label P/R/F1.

Every model outputs probabilities over ``request, offer, emotional_support, other``. A test set
has one task, and each task reads those probabilities its own way:

- ``4way``: gold is one of the four labels; the prediction is the argmax.
- ``actionable``: gold ``actionable`` or not. The prediction is *actionable* when
  ``P(request) + P(offer) >= 0.5`` — the probability mass on "someone must act on this", which is
  the Bayes decision for the binary question when the probabilities are calibrated (the packages
  carry a fitted temperature). It can differ from "argmax is request or offer" when, say,
  request 0.3 / offer 0.3 / other 0.4: that post *is* more likely actionable than not.
- ``informative``: gold ``informative`` or not. The prediction is *informative* when
  ``P(request) + P(offer) + P(emotional_support) >= 0.5``, i.e. when ``other`` has less than half
  the mass. Emotional support counts as informative: the sources that split informative from not
  (CrisisNLP volunteers, CrisisLexT26) label sympathy, prayers and offers of support as crisis
  content, and the product routes them to their own topic. ``other`` mixes useful crisis facts
  (damage, casualties) with off-topic chatter, so recall on this task is bounded: informative posts
  about damage that a model correctly calls ``other`` count as misses. Read it as "does the model
  keep off-topic posts out of the three routed classes", not as a general informativeness score.

Binary gold values: the task's own name is the positive class (``actionable``/``informative``);
any other value (``not``, ``not_actionable``, ``0``…) is the negative class ``not_<task>``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.errors import TriageError
from models.package import LABELS

#: Which of the four labels count towards the positive class of each binary task.
POSITIVE_LABELS: dict[str, tuple[str, ...]] = {
    "actionable": ("request", "offer"),
    "informative": ("request", "offer", "emotional_support"),
}
TASKS: tuple[str, ...] = ("4way", *POSITIVE_LABELS)
BINARY_THRESHOLD = 0.5


def task_labels(task: str) -> tuple[str, ...]:
    """The label set a task is scored on (positive class first for binary tasks)."""
    if task == "4way":
        return LABELS
    if task in POSITIVE_LABELS:
        return (task, f"not_{task}")
    raise TriageError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")


def normalize_gold(gold: Sequence[str], task: str) -> list[str]:
    """Gold values as task labels; binary tasks map all but the task name to ``not_<task>``."""
    if task == "4way":
        unknown = sorted({g for g in gold} - set(LABELS))
        if unknown:
            raise TriageError(f"4way gold labels must be {', '.join(LABELS)}; found {unknown[:3]}")
        return list(gold)
    positive, negative = task_labels(task)
    return [positive if str(g) == positive else negative for g in gold]


def task_predictions(probabilities: np.ndarray, task: str) -> list[str]:
    """Turn ``[n, 4]`` probabilities (columns in ``LABELS`` order) into the task's labels."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(LABELS):
        raise ValueError(f"expected [n, {len(LABELS)}] probabilities, got {probabilities.shape}")
    if task == "4way":
        return [LABELS[i] for i in probabilities.argmax(axis=1)]
    positive, negative = task_labels(task)
    columns = [LABELS.index(label) for label in POSITIVE_LABELS[task]]
    mass = probabilities[:, columns].sum(axis=1)
    return [positive if m >= BINARY_THRESHOLD else negative for m in mass]


def score(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Macro-F1, accuracy, per-label precision/recall/F1/support and the confusion matrix.

    Macro-F1 averages over ``labels`` (all of them, also ones absent from gold: scikit-learn's
    ``zero_division=0`` convention), so a model that never predicts a class is penalised.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    return {
        "n": len(gold),
        "macro_f1": float(
            f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "accuracy": float(accuracy_score(gold, predicted)) if len(gold) else 0.0,
        "per_label": {
            label: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "labels": labels,
        "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


def score_task(gold: Sequence[str], probabilities: np.ndarray, task: str) -> dict[str, Any]:
    """Score one model's probabilities on one test set of the given task."""
    return score(
        normalize_gold(gold, task), task_predictions(probabilities, task), task_labels(task)
    )


def accuracy_by_source_label(
    gold: Sequence[str], probabilities: np.ndarray, task: str, source_labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per original source label: how many posts, the task label they map to (the most common
    one) and the share the model gets right. Shows which annotation scheme a model misreads,
    e.g. one held-out event's own label for aid reports."""
    truth = normalize_gold(gold, task)
    predicted = task_predictions(probabilities, task)
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(source_labels):
        groups.setdefault(str(label), []).append(i)
    out = {}
    for label, rows in sorted(groups.items(), key=lambda item: -len(item[1])):
        targets = [truth[i] for i in rows]
        out[label] = {
            "n": len(rows),
            "gold": Counter(targets).most_common(1)[0][0],  # ties: the first seen
            "accuracy": sum(truth[i] == predicted[i] for i in rows) / len(rows),
        }
    return out


def _macro_f1_codes(gold: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 of each row of ``predicted`` ``[reps, n]`` against ``gold`` (integer codes,
    also ``[reps, n]``), with scikit-learn's zero-division convention."""
    scores = np.zeros(gold.shape[0])
    for label in range(n_labels):
        true_pos = ((predicted == label) & (gold == label)).sum(axis=1)
        denom = (predicted == label).sum(axis=1) + (gold == label).sum(axis=1)
        scores += np.divide(2 * true_pos, denom, out=np.zeros(len(denom)), where=denom > 0)
    return scores / n_labels


def paired_bootstrap(
    gold: Sequence[str],
    probabilities: np.ndarray,
    reference: np.ndarray,
    task: str,
    reps: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """Macro-F1 of ``probabilities`` minus that of ``reference`` on the same posts, with a 95%
    paired bootstrap interval (the same resampled posts score both models)."""
    labels = list(task_labels(task))
    code = {label: i for i, label in enumerate(labels)}
    gold_codes = np.array([code[g] for g in normalize_gold(gold, task)])
    ours = np.array([code[p] for p in task_predictions(probabilities, task)])
    theirs = np.array([code[p] for p in task_predictions(reference, task)])
    rows = np.random.default_rng(seed).integers(0, len(gold_codes), (reps, len(gold_codes)))
    gold_rs = gold_codes[rows]
    deltas = _macro_f1_codes(gold_rs, ours[rows], len(labels)) - _macro_f1_codes(
        gold_rs, theirs[rows], len(labels)
    )
    full = _macro_f1_codes(gold_codes[None], ours[None], len(labels)) - _macro_f1_codes(
        gold_codes[None], theirs[None], len(labels)
    )
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"delta": float(full[0]), "ci95_low": float(low), "ci95_high": float(high)}
