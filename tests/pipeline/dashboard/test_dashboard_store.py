"""Feed items from routed messages, feedback messages, and the bounded in-memory store."""

from __future__ import annotations

import queue

import pytest
from dashboard_helpers import make_routed

from pipeline.dashboard.items import feedback_message, item_from_message
from pipeline.dashboard.store import CLOSE, FeedStore

POSITION = ("p.requests", 1, 42)


def _item(post_id: str, label: str = "request", ts: int = 1_000) -> dict:
    route, value = make_routed(post_id, f"need water {post_id}", label)
    item = item_from_message(value, route, ts, POSITION)
    assert item is not None
    return item


def test_item_from_the_jobs_routed_message() -> None:
    route, value = make_routed("a1", "Need insulin in Ponce", "request", 0.83, event="maria")
    item = item_from_message(value, route, 1_700_000_000_000, POSITION)
    assert item["id"] == "a1" and item["label"] == "request" and item["route"] == "requests"
    assert item["confidence"] == pytest.approx(0.83)
    assert item["model"] == "tiny-test@0.0.1"
    assert item["resources"] == ["medical"]
    assert item["location"]["name"] == "Ponce"
    assert item["event"] == "maria"
    assert item["kafka"] == {"topic": "p.requests", "partition": 1, "offset": 42}
    assert item["status"] == "open"


def test_item_enriches_when_the_job_did_not() -> None:
    route, value = make_routed("a2", "Tents needed in Gorkha", "request")
    del value["enrichment"]
    item = item_from_message(value, route, 0, POSITION)
    assert item["resources"] == ["shelter"] and item["location"]["name"] == "Gorkha"


@pytest.mark.parametrize(
    "broken",
    [{}, {"id": "x", "text": "t"}, {"id": 5, "text": "t", "classification": {"label": "offer"}}],
)
def test_unusable_messages_are_skipped(broken: dict) -> None:
    assert item_from_message(broken, "requests", 0, POSITION) is None


def test_feedback_message_shape_and_validation() -> None:
    item = _item("f1")
    message = feedback_message(item, "misclassified", "offer", at="2026-01-01T00:00:00Z")
    assert message == {
        "post_id": "f1",
        "action": "misclassified",
        "corrected_label": "offer",
        "confirmed": False,
        "predicted_label": "request",
        "probabilities": item["probabilities"],
        "route": "requests",
        "model": "tiny-test@0.0.1",
        "text": "need water f1",
        "at": "2026-01-01T00:00:00Z",
        "source": "dashboard",
    }
    assert feedback_message(item, "handled", None)["at"].endswith("Z")
    for action, label in (("deleted", None), ("misclassified", "spam"), ("handled", "offer")):
        with pytest.raises(ValueError):
            feedback_message(item, action, label)


def test_window_is_bounded_and_duplicates_are_ignored() -> None:
    store = FeedStore(window=3)
    for i in range(5):
        store.add_item(_item(f"p{i}", ts=i))
    store.add_item(_item("p4", ts=99))  # re-delivery (at-least-once) keeps the first copy
    assert [i["id"] for i in store.items()] == ["p4", "p3", "p2"]
    assert store.get("p4")["ts"] == 4


def test_counts_per_minute_once_per_post() -> None:
    store = FeedStore()
    store.count("a", "request", 60_000)
    store.count("a", "request", 60_500)  # duplicate delivery
    store.count("b", "offer", 61_000)
    store.count("c", "other", 120_000)
    store.count("d", "not-a-label", 120_000)
    assert store.counts() == [
        {
            "minute": 60_000,
            "counts": {"request": 1, "offer": 1, "emotional_support": 0, "other": 0},
        },
        {
            "minute": 120_000,
            "counts": {"request": 0, "offer": 0, "emotional_support": 0, "other": 1},
        },
    ]


def test_feedback_before_or_after_the_item_and_events() -> None:
    store = FeedStore()
    listener = store.subscribe()
    store.apply_feedback("early", "handled", None)  # read back before the item arrived
    store.add_item(_item("early"))
    assert store.get("early")["status"] == "handled"
    store.add_item(_item("late"))
    store.apply_feedback("late", "misclassified", "offer")
    store.apply_feedback("late", "misclassified", "offer")  # no change: no second event
    events = []
    while not listener.empty():
        events.append(listener.get_nowait())
    assert [e for e, _ in events] == ["status", "item", "item", "status"]
    assert events[-1][1] == {"id": "late", "status": "misclassified", "corrected_label": "offer"}


def test_slow_subscriber_is_dropped_not_blocking() -> None:
    store = FeedStore()
    slow = store.subscribe()
    for i in range(slow.maxsize + 5):
        store.publish("item", i)
    drained = []
    while True:
        try:
            drained.append(slow.get_nowait())
        except queue.Empty:
            break
    assert drained[-1] == (CLOSE, None)  # told to end; the browser reconnects for a snapshot
    store.publish("item", "after")
    assert slow.empty()  # no longer subscribed


def test_dead_letters() -> None:
    store = FeedStore()
    store.add_dead_letter({"reason": "invalid_json"}, 5)
    store.add_dead_letter(None, 6)
    assert store.dead_letters() == {
        "seen": 2,
        "recent": [{"reason": "unreadable", "ts": 6}, {"reason": "invalid_json", "ts": 5}],
    }


def test_a_retweet_storm_is_one_card_with_its_copies_and_latest_time() -> None:
    store = FeedStore(window=50)
    for i in range(20):
        route, value = make_routed(
            f"rt{i}", f"RT @n{i}: need insulin in Ponce", "request", cluster=("rt0", i + 1)
        )
        item = item_from_message(value, route, 1_000 + i, POSITION)
        store.count(item["id"], item["label"], item["ts"], item["cluster_id"])
        store.add_item(item)
    store.add_item(item)  # a redelivered copy changes nothing
    route, value = make_routed("solo", "tents needed in Gorkha", "request", cluster=("solo", 1))
    solo = item_from_message(value, route, 5_000, POSITION)
    store.count(solo["id"], solo["label"], solo["ts"], solo["cluster_id"])
    store.add_item(solo)
    cards = {card["id"]: card for card in store.items()}
    assert set(cards) == {"rt0", "solo"}
    assert (cards["rt0"]["copies"], cards["rt0"]["cluster_size"]) == (20, 20)
    assert (cards["rt0"]["ts"], cards["rt0"]["latest_ts"]) == (1_000, 1_019)
    assert cards["rt0"]["post_id"] == "rt0" and cards["solo"]["copies"] == 1
    assert store.totals() == {"posts": 21, "clusters": 2}


def test_a_card_shows_the_jobs_cluster_size_when_earlier_copies_were_missed() -> None:
    store = FeedStore()
    route, value = make_routed("rt7", "RT @x: need insulin in Ponce", "request", cluster=("rt0", 7))
    store.add_item(item_from_message(value, route, 0, POSITION))
    (card,) = store.items()
    assert (card["id"], card["post_id"], card["cluster_size"]) == ("rt0", "rt7", 7)
