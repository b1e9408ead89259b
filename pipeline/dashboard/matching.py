"""Request–offer matching: for each open request, the offers that could meet it, ranked.

An offer is a candidate for a request when they share at least one resource type. Place counts
when both are known: the same place name or points within 50 km rank highest, then within
300 km, then within 1,500 km; offers farther away than that are left out (a water offer in
Kathmandu does not help a request in Utuado). An offer with no known place stays a candidate,
ranked below the located ones. Ties go to the newer offer. Each match carries its reasons.
Offers are indexed by resource type, so a board of 50 requests over thousands of items is a
few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.enrich import distance_km

MAX_KM = 1500.0
# (within km, score bonus, reason); the first band that holds wins.
DISTANCE_BANDS: tuple[tuple[float, float, str], ...] = (
    (50.0, 2.0, "nearby"),
    (300.0, 1.0, "same region"),
    (MAX_KM, 0.3, "same part of the world"),
)
SAME_PLACE_BONUS = 2.5
RESOURCE_WEIGHT = 1.0


@dataclass(frozen=True)
class Match:
    offer: dict[str, Any]
    score: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"offer": self.offer, "score": round(self.score, 3), "reasons": list(self.reasons)}


def _place_score(request: dict[str, Any], offer: dict[str, Any]) -> tuple[float, str] | None:
    """Bonus and reason for where the two are; None when too far apart to help."""
    here, there = request.get("location"), offer.get("location")
    if not here or not there:
        return 0.0, "place of the offer unknown" if here else "place of the request unknown"
    if here.get("name") and here.get("name") == there.get("name"):
        return SAME_PLACE_BONUS, f"same place: {here['name']}"
    coords = (here.get("lat"), here.get("lon"), there.get("lat"), there.get("lon"))
    if any(not isinstance(c, (int, float)) for c in coords):
        return 0.0, "distance unknown"
    km = distance_km(*coords)  # type: ignore[arg-type]
    for limit, bonus, words in DISTANCE_BANDS:
        if km <= limit:
            return bonus, f"{words}: {km:,.0f} km ({here['name']} – {there['name']})"
    return None


def match_request(
    request: dict[str, Any], offers: Iterable[dict[str, Any]], limit: int = 3
) -> list[Match]:
    """The best ``limit`` offers for one request, best first."""
    wanted = set(request.get("resources") or ())
    if not wanted:
        return []
    matches = []
    for offer in offers:
        shared = wanted & set(offer.get("resources") or ())
        if not shared:
            continue
        place = _place_score(request, offer)
        if place is None:
            continue
        bonus, place_reason = place
        reasons = (f"shares {', '.join(sorted(shared))}", place_reason)
        matches.append(Match(offer, RESOURCE_WEIGHT * len(shared) + bonus, reasons))
    matches.sort(key=lambda m: (m.score, m.offer.get("ts", 0)), reverse=True)
    return matches[:limit]


def is_open_request(item: dict[str, Any]) -> bool:
    return item.get("label") == "request" and item.get("status") == "open"


def is_usable_offer(item: dict[str, Any]) -> bool:
    """An offer nobody has used up (handled) or rejected (misclassified) yet."""
    return item.get("label") == "offer" and item.get("status") == "open"


def match_all(
    items: Iterable[dict[str, Any]], max_requests: int = 50, per_request: int = 3
) -> list[dict[str, Any]]:
    """Open requests naming a resource (newest first), each with its best offers (maybe none)."""
    items = list(items)
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for offer in filter(is_usable_offer, items):
        for resource in offer.get("resources") or ():
            by_resource.setdefault(resource, []).append(offer)
    requests = [i for i in items if is_open_request(i) and i.get("resources")]
    requests.sort(key=lambda i: i.get("ts", 0), reverse=True)
    board = []
    for request in requests[:max_requests]:
        candidates = {
            id(offer): offer for r in request["resources"] for offer in by_resource.get(r, ())
        }
        matches = match_request(request, candidates.values(), per_request)
        board.append({"request": request, "matches": [m.as_dict() for m in matches]})
    return board
