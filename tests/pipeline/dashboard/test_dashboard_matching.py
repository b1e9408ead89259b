"""Request–offer matching: shared resource types, place, ranking, reasons."""

from __future__ import annotations

from typing import Any

from pipeline.dashboard.matching import match_all, match_request

UTUADO = {"name": "Utuado", "lat": 18.266, "lon": -66.701, "method": "gazetteer"}
JAYUYA = {"name": "Jayuya", "lat": 18.219, "lon": -66.592, "method": "gazetteer"}  # ~13 km
SAN_JUAN = {"name": "San Juan", "lat": 18.466, "lon": -66.106, "method": "gazetteer"}  # ~66 km
MIAMI = {"name": "Miami", "lat": 25.76, "lon": -80.19, "method": "gazetteer"}  # ~1,650 km


def _item(
    post_id: str,
    label: str,
    resources: list[str],
    location: dict | None = None,
    ts: int = 0,
    status: str = "open",
) -> dict[str, Any]:
    return {
        "id": post_id,
        "label": label,
        "resources": resources,
        "location": location,
        "ts": ts,
        "status": status,
        "text": post_id,
    }


def test_ranks_by_shared_resources_and_place() -> None:
    request = _item("r", "request", ["food", "water"], UTUADO)
    offers = [
        _item("far-same-island", "offer", ["water"], SAN_JUAN),
        _item("same-place", "offer", ["water"], UTUADO),
        _item("nearby-two", "offer", ["food", "water"], JAYUYA),
        _item("unknown-place", "offer", ["water"], None),
        _item("other-resource", "offer", ["medical"], UTUADO),
        _item("too-far", "offer", ["food", "water"], MIAMI),
    ]
    matches = match_request(request, offers, limit=10)
    assert [m.offer["id"] for m in matches] == [
        "nearby-two",  # 2 shared + nearby (2.0) = 4.0
        "same-place",  # 1 shared + same place (2.5) = 3.5
        "far-same-island",  # 1 + same region (1.0)
        "unknown-place",  # 1 + 0
    ]
    assert matches[0].reasons == ("shares food, water", "nearby: 13 km (Utuado – Jayuya)")
    assert matches[1].reasons[1] == "same place: Utuado"
    assert matches[3].reasons[1] == "place of the offer unknown"


def test_ties_go_to_newer_offer_and_limit_applies() -> None:
    request = _item("r", "request", ["water"])
    offers = [_item(f"o{i}", "offer", ["water"], ts=i) for i in range(5)]
    assert [m.offer["id"] for m in match_request(request, offers, limit=3)] == ["o4", "o3", "o2"]


def test_request_without_resources_matches_nothing() -> None:
    assert match_request(_item("r", "request", []), [_item("o", "offer", ["water"])]) == []


def test_board_lists_open_requests_newest_first_with_or_without_offers() -> None:
    items = [
        _item("old", "request", ["water"], ts=1),
        _item("new", "request", ["shelter"], ts=3),
        _item("done", "request", ["water"], ts=4, status="handled"),  # handled: not open
        _item("vague", "request", [], ts=5),  # names no resource
        _item("offer", "offer", ["water"], ts=2),
        _item("wrong", "offer", ["shelter"], ts=2, status="misclassified"),  # not an offer
        _item("used", "offer", ["shelter"], ts=2, status="handled"),  # already taken
    ]
    board = match_all(items)
    assert [entry["request"]["id"] for entry in board] == ["new", "old"]
    assert board[0]["matches"] == []
    assert [m["offer"]["id"] for m in board[1]["matches"]] == ["offer"]
    assert board[1]["matches"][0]["reasons"][0] == "shares water"
