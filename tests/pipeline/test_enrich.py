"""Enrichment: resource types and locations, on hand-made posts and real HumAID posts.

Real rows are read from ``../shared/data`` at test time (found by a substring), never copied here.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from pipeline.enrich import (
    distance_km,
    enrich,
    find_resources,
    gazetteer_places,
    nearest_place,
    resource_types,
)

SAN_JUAN = (18.466, -66.106)


def _resources(text: str) -> list[str]:
    return enrich({"id": "t", "text": text})["resources"]


def _place(text: str) -> str | None:
    location = enrich({"id": "t", "text": text})["location"]
    return location["name"] if location else None


# ---------------------------------------------------------------- resources, hand-made


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We need drinking water and baby formula", ["food", "water"]),
        ("#NeedWater #SendGenerators", ["power", "water"]),  # hashtags split on camel case
        ("Tents, tarps and blankets urgently needed", ["clothing", "shelter"]),  # plurals
        ("Batteries and flashlights please", ["power"]),  # -y → -ies
        ("Evacuees stranded on the highway", ["rescue"]),  # prefix term evacuat*
        ("Text REDCROSS to 90999 to give $10", ["money"]),  # raw-regex terms
        ("can't reach my mother since the storm", ["communication"]),
        ("non-perishable food drive this weekend", ["food"]),  # hyphens match spaces
        ("Diapers, wipes and soap for the shelter", ["sanitation", "shelter"]),
        ("Volunteer drivers needed to deliver insulin", ["medical", "transport", "volunteers"]),
    ],
)
def test_resource_types_found(text: str, expected: list[str]) -> None:
    assert _resources(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Flood water rising fast on Main St",  # flood water is not a water need
        "Police fired tear gas at protesters",  # tear gas is not fuel
        "Thanks @WaterAid and @FoodBankNYC for the retweet",  # handles are not needs
        "Thoughts and prayers for everyone affected",
        "what a waste of time this meeting was",
    ],
)
def test_exclusions_and_noise_give_no_resource(text: str) -> None:
    assert _resources(text) == []


def test_result_shape_and_sorted() -> None:
    result = enrich({"id": "1", "text": "Need food, water and medicine in Ponce, Puerto Rico"})
    assert set(result) == {"resources", "location"}
    assert result["resources"] == sorted(result["resources"])
    assert set(result["resources"]) <= set(resource_types())
    assert result["location"] == {
        "name": "Ponce",
        "lat": pytest.approx(18.011, abs=0.01),
        "lon": pytest.approx(-66.614, abs=0.01),
        "method": "gazetteer",
    }


def test_no_text_is_not_an_error() -> None:
    assert enrich({"id": "x"}) == {"resources": [], "location": None}
    assert find_resources("") == []


# ---------------------------------------------------------------- locations, hand-made


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Utuado, Puerto Rico has no water", "Utuado"),  # most specific wins
        ("Pray for Puerto Rico and Dominica", "Puerto Rico"),  # tie → first mentioned
        ("#PrayForPuertoRico", "Puerto Rico"),  # camel-case hashtag
        ("#prayforpuertorico", "Puerto Rico"),  # run-together lower-case hashtag
        ("Damage in Mayaguez and Mayagüez", "Mayagüez"),  # accents folded
        ("Roads closed in North Carolina", "North Carolina"),  # longest match
        ("Carolina Panthers win again", None),  # ctx place without its country named
        ("Power back in Carolina, Puerto Rico", "Carolina"),  # ...with it
        ("the turkey is in the oven", None),  # case-sensitive row
        ("Earthquake hits Turkey and Syria", "Turkey"),
        ("pr campaign launched today", None),  # two-letter acronyms keep capitals
        ("Supplies collected in New Britain for #PR", "Puerto Rico"),  # not Britain
        ("No place named here at all", None),
    ],
)
def test_gazetteer_locations(text: str, expected: str | None) -> None:
    assert _place(text) == expected


def test_geo_point_wins_and_is_named_by_nearest_town() -> None:
    post = {"id": "g", "text": "We need water in Houston", "geo": {"lat": 18.45, "lon": -66.07}}
    location = enrich(post)["location"]
    assert location == {"name": "San Juan", "lat": 18.45, "lon": -66.07, "method": "geo"}


def test_geo_forms_and_names() -> None:
    geojson = {"id": "g", "text": "x", "geo": {"type": "Point", "coordinates": [-66.07, 18.45]}}
    assert enrich(geojson)["location"]["lat"] == 18.45
    named = {"id": "g", "text": "x", "geo": {"lat": 0.5, "lon": -160.0, "name": "Ship"}}
    assert enrich(named)["location"]["name"] == "Ship"
    far = {"id": "g", "text": "x", "geo": {"lat": 0.5, "lon": -160.0}}
    assert enrich(far)["location"]["name"] == "0.500, -160.000"  # open ocean: no town near
    bad = {"id": "g", "text": "in Ponce", "geo": {"lat": "north", "lon": 5}}
    assert enrich(bad)["location"]["method"] == "gazetteer"  # unusable geo → text


def test_gazetteer_is_sane() -> None:
    places = gazetteer_places()
    assert len(places) > 500
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in places)
    municipalities = [p for p in places if p.kind == "municipality" and p.country == "PR"]
    assert len(municipalities) == 77  # Puerto Rico's 78 minus Florida (the US state wins)
    # every Puerto Rico municipality lies on or near the island
    assert all(distance_km(p.lat, p.lon, 18.22, -66.45) < 130 for p in municipalities)
    assert nearest_place(*SAN_JUAN).name == "San Juan"
    assert nearest_place(0.0, -150.0) is None


def test_enrich_is_fast() -> None:
    posts = [
        {"id": str(i), "text": f"Need water, food and tents in Utuado #PuertoRico {i}"}
        for i in range(2000)
    ]
    enrich(posts[0])  # load the lexicon and gazetteer
    start = time.perf_counter()
    for post in posts:
        enrich(post)
    per_post = (time.perf_counter() - start) / len(posts)
    assert per_post < 0.0005  # the contract is < 0.1 ms; leave room for a busy CI box


# ---------------------------------------------------------------- real posts (HumAID, Maria)


@pytest.fixture(scope="module")
def humaid(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "humaid_maria" / "humaid_maria.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _real(rows: list[dict[str, str]], fragment: str) -> str:
    for row in rows:
        if fragment in row["text"]:
            return row["text"]
    pytest.skip(f"no HumAID post contains {fragment!r} (different data version?)")


@pytest.mark.parametrize(
    ("fragment", "resources", "exact", "place"),
    [
        # hand-checked real requests: every expected resource is named in the post
        ("no water, no shelter, no sanit", "food sanitation shelter water", True, "Puerto Rico"),
        ("water,food,gas,medicine,diapers", "food fuel medical power sanitation water", True, None),
        ("Food, water and fuel are running out on the", "food fuel water", True, "Vieques"),
        ("short on fuel, cannot deliver food", "food fuel medical transport", False, "Puerto Rico"),
        ("basic supplies such as water, diapers, wipes", "sanitation water", True, "Puerto Rico"),
        ("We need drinking water #HurricaneMaria", "water", True, None),
        # real non-needs: the sea around an island is not a water request
        ("Surrounded by water. Big water. Ocean water", "", True, None),
        ("has emerged back over the water", "", True, None),
    ],
)  # fmt: skip
def test_hand_checked_real_posts(
    humaid: list[dict[str, str]], fragment: str, resources: str, exact: bool, place: str | None
) -> None:
    result = enrich({"id": "r", "text": _real(humaid, fragment)})
    expected = set(resources.split())
    found = set(result["resources"])
    assert found == expected if exact else expected <= found
    if place is not None:
        assert result["location"]["name"] == place


def _share_with_resources(rows: list[dict[str, str]], label: str) -> float:
    texts = [r["text"] for r in rows if r["label"] == label]
    return sum(bool(_resources(t)) for t in texts) / len(texts)


def test_requests_name_resources_more_than_other_posts(humaid: list[dict[str, str]]) -> None:
    """Many HumAID requests are generic appeals ("please help PR"), so ~40% name a resource;
    sympathy and advice posts name one far less often: the lexicon tracks needs, not noise."""
    requests = _share_with_resources(humaid, "requests_or_urgent_needs")
    sympathy = _share_with_resources(humaid, "sympathy_and_support")
    advice = _share_with_resources(humaid, "caution_and_advice")
    evacuations = _share_with_resources(humaid, "displaced_people_and_evacuations")
    assert requests >= 0.33
    assert requests >= 2 * sympathy and requests >= 2 * advice
    assert evacuations >= 0.7  # rescue/evacuation vocabulary


def test_real_locations_are_mostly_the_disaster_area(humaid: list[dict[str, str]]) -> None:
    """Hurricane Maria posts: most found locations lie within 1,000 km of Puerto Rico."""
    located = [enrich({"id": "r", "text": r["text"]})["location"] for r in humaid]
    located = [loc for loc in located if loc is not None]
    assert len(located) >= 0.5 * len(humaid)
    near = sum(distance_km(18.22, -66.59, loc["lat"], loc["lon"]) < 1000 for loc in located)
    assert near / len(located) >= 0.85
