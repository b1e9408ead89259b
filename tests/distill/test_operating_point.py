"""Operating-point metrics on a hand-made fold: routing by the job's rule, then the numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distill.operating_point import macro_mean, operating_point_scores, recall_at_precision, routes

THRESHOLDS = {"request": 0.5, "offer": 0.6, "emotional_support": 0.5, "other": 0.7}
# columns: request, offer, emotional_support, other
PROBS = np.array(
    [
        [0.90, 0.05, 0.02, 0.03],  # request → requests          (gold request)
        [0.45, 0.30, 0.05, 0.20],  # request below 0.5 → review  (gold request)
        [0.10, 0.20, 0.05, 0.65],  # other below 0.7 → review    (gold request)
        [0.05, 0.10, 0.05, 0.80],  # other → other               (gold request)
        [0.60, 0.30, 0.05, 0.05],  # request → requests          (gold offer)
        [0.12, 0.78, 0.05, 0.05],  # offer → offers              (gold offer)
        [0.04, 0.56, 0.10, 0.30],  # offer below 0.6 → review    (gold offer)
        [0.02, 0.03, 0.90, 0.05],  # support → support           (gold emotional_support)
        [0.20, 0.05, 0.05, 0.70],  # other (= threshold) → other (gold other)
        [0.30, 0.65, 0.02, 0.03],  # offer → offers              (gold other)
    ]
)
GOLD = ["request"] * 4 + ["offer"] * 3 + ["emotional_support", "other", "other"]


def test_routes_follow_the_jobs_rule():
    assert routes(PROBS, THRESHOLDS).tolist() == [
        "requests", "review", "review", "other", "requests",
        "offers", "review", "support", "other", "offers",
    ]  # fmt: skip
    assert set(routes(PROBS, {}).tolist()) == {"requests", "offers", "support", "other"}


def test_request_and_offer_numbers_at_the_operating_point():
    scores = operating_point_scores(GOLD, PROBS, THRESHOLDS)
    assert scores["n"] == 10 and scores["review_share"] == pytest.approx(0.3)
    request = scores["labels"]["request"]
    assert (request["support"], request["routed"]) == (4, 2)
    assert request["precision"] == pytest.approx(0.5)  # 1 of the 2 routed is a request
    assert request["recall"] == pytest.approx(0.25)
    assert request["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert request["reach"] == pytest.approx(0.75)  # requests + review: rows 0, 1, 2
    # ranked by P(request), the 4 requests are at positions 1, 3, 7 and 8
    assert request["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 7 + 4 / 8) / 4)
    assert request["recall_at_precision"] == pytest.approx(0.5)  # top 3: 2 requests, P 0.67
    offer = scores["labels"]["offer"]
    got = (offer["precision"], offer["recall"], offer["reach"])
    assert got == pytest.approx((0.5, 1 / 3, 2 / 3))


def test_recall_at_precision_edge_cases():
    truth = np.array([False, True, False])
    assert recall_at_precision(truth, np.array([0.9, 0.1, 0.5]), 0.6) == 0.0
    assert math.isnan(recall_at_precision(np.zeros(3, bool), np.array([0.1, 0.2, 0.3]), 0.6))


def test_macro_mean_is_unweighted_and_skips_folds_without_the_label():
    small = operating_point_scores(GOLD[:4], PROBS[:4], THRESHOLDS)
    no_offers = operating_point_scores(["other"], PROBS[8:9], THRESHOLDS)
    macro = macro_mean({"a": small, "b": no_offers})
    assert macro["folds"] == 2
    assert macro["labels"]["request"]["recall"] == pytest.approx(0.25)  # fold b has no requests
    assert macro["review_share"] == pytest.approx((0.5 + 0.0) / 2)
    assert macro["labels"]["request"]["precision"] == pytest.approx((1.0 + 0.0) / 2)


def test_review_floor_raises_request_reach_at_the_cost_of_review():
    from distill.operating_point import request_review_floor

    # Without a floor 3 of 4 true requests reach requests-or-review (row 3 is filed as other).
    assert operating_point_scores(GOLD, PROBS, THRESHOLDS)["labels"]["request"]["reach"] == 0.75
    floor, scores = request_review_floor(GOLD, PROBS, THRESHOLDS, min_reach=1.0)
    assert floor == 0.05  # the missed request's P(request): the highest floor that catches it
    assert scores["labels"]["request"]["reach"] == 1.0
    # The gold-other row with P(request) 0.20 now waits in review too: the price of the floor.
    assert routes(PROBS, THRESHOLDS, {"request": floor})[8] == "review"
    assert request_review_floor(GOLD, PROBS, THRESHOLDS, min_reach=0.75)[0] is None
