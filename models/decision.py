"""The model's decision beyond its top label: whether a post needs a person's review.

The thresholds and review floors belong to the model package that produced the probabilities
(they were calibrated on its outputs), so the classifier applies them itself: a model swap then
changes model, calibration and thresholds together, and nothing downstream holds stale values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

LOW_CONFIDENCE = "low_confidence"
POSSIBLE_PREFIX = "possible_"  # + label, e.g. possible_request: that label's review floor


def review_reason(
    label: str,
    probabilities: Mapping[str, float],
    thresholds: Mapping[str, float],
    review_floors: Mapping[str, float] | None = None,
) -> str | None:
    """Why a post predicted as ``label`` goes to review, or None when it does not.

    ``low_confidence``: the label's probability is below its threshold.
    ``possible_<other>``: another label's probability reaches that label's review floor
    (e.g. a possible request is never filed under ``other``).
    """
    if probabilities[label] < thresholds.get(label, 0.0):
        return LOW_CONFIDENCE
    for other, floor in (review_floors or {}).items():
        if other != label and probabilities.get(other, 0.0) >= floor:
            return POSSIBLE_PREFIX + other
    return None


def decide(
    labels: Sequence[str],
    rows: Iterable[Sequence[float]],
    thresholds: Mapping[str, float],
    review_floors: Mapping[str, float] | None = None,
) -> Iterator[tuple[str, dict[str, float], str | None]]:
    """Per probability row (in ``labels`` order): top label, rounded probabilities, and the
    review reason (:func:`review_reason`)."""
    for row in rows:
        probabilities = {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}
        label = labels[max(range(len(labels)), key=lambda i: row[i])]
        yield label, probabilities, review_reason(label, probabilities, thresholds, review_floors)
