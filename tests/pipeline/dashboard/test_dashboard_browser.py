"""The dashboard in headless Chromium against a real Tansu broker: live feed, filters, XSS,
auth, feedback. Posts are produced into the routed topics in the job's exact message shape."""

from __future__ import annotations

import re
import time

import pytest
from dashboard_helpers import make_routed
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.integration]

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def _open(page, dashboard) -> None:
    page.goto(dashboard.url)
    page.wait_for_selector("#conn.conn-live")


def _card(page, post_id: str):
    return page.locator(f'#feed li[data-id="{post_id}"]')


def test_page_loads_without_token_in_address_bar(page, dashboard) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _open(page, dashboard)
    assert page.title() == "Crisis triage · responder view"
    assert "token" not in page.url  # redirected; the token lives in an HttpOnly cookie
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
    assert page.locator("#prefix").text_content() == f"{dashboard.prefix}.*"
    assert page.locator("#filter-resource option").count() > 10
    assert dashboard.token not in page.content()
    assert errors == []


def test_produced_post_appears_live(page, dashboard) -> None:
    _open(page, dashboard)
    started = time.monotonic()
    dashboard.produce(
        make_routed("live-1", "We need drinking water in Utuado, Puerto Rico", "request")
    )
    card = _card(page, "live-1")
    card.wait_for(timeout=5000)
    assert time.monotonic() - started < 5.0
    assert "We need drinking water in Utuado" in card.locator(".item-text").text_content()
    assert card.locator(".badge.request").count() == 1
    assert card.locator(".conf").text_content() == "90%"
    assert card.locator(".chip").all_text_contents() == ["water"]
    assert card.locator(".place").text_content() == "Utuado"
    # the per-minute chart counted it
    page.wait_for_selector("#chart rect.bar-request")


def test_filters(page, dashboard) -> None:
    dashboard.produce(
        make_routed("f-req", "Families in Ponce need food and tents", "request"),
        make_routed("f-off", "We can deliver bottled water to Arecibo", "offer"),
        make_routed("f-nep", "Tents needed in Gorkha", "request", event="nepal_earthquake_2015"),
        make_routed("f-rev", "maybe water? not sure", "request", confidence=0.4),  # → review
    )
    _open(page, dashboard)
    for post_id in ("f-req", "f-off", "f-nep", "f-rev"):
        _card(page, post_id).wait_for()
    assert _card(page, "f-rev").locator(".badge.review").count() == 1

    def shown() -> set[str]:
        return set(page.locator("#feed li").evaluate_all("els => els.map(e => e.dataset.id)"))

    page.select_option("#filter-label", "offer")
    assert shown() == {"f-off"}
    page.select_option("#filter-label", "")
    page.select_option("#filter-resource", "water")
    assert shown() == {"f-off", "f-rev"}
    page.select_option("#filter-resource", "")
    page.select_option("#filter-event", "nepal_earthquake_2015")
    assert shown() == {"f-nep"}
    page.select_option("#filter-event", "")
    page.fill("#filter-keyword", "ponce")
    assert shown() == {"f-req"}
    page.fill("#filter-keyword", "no such words")
    assert shown() == set()
    assert page.locator("#feed-empty").is_visible()


def test_xss_payload_is_shown_as_text_and_never_runs(page, dashboard) -> None:
    _open(page, dashboard)
    dashboard.produce(make_routed("xss-1", XSS, "request"))
    card = _card(page, "xss-1")
    card.wait_for()
    page.wait_for_timeout(300)  # give an injected handler time to fire, if any
    assert page.evaluate("window.__xss") is None
    assert card.locator(".item-text").text_content() == XSS  # the literal text is visible
    assert card.locator("img").count() == 0 and page.locator("#feed script").count() == 0


def test_request_without_token_is_refused(page, dashboard) -> None:
    response = page.goto(dashboard.base + "/")
    assert response.status == 401
    assert "needs its access token" in page.text_content("body")
    response = page.goto(dashboard.base + "/?token=wrong-token-wrong-token")
    assert response.status == 401
    assert page.request.get(dashboard.base + "/api/state").status == 401


def test_feedback_click_writes_to_kafka_and_leaves_open_list(page, dashboard) -> None:
    dashboard.produce(
        make_routed("fb-req", "Need insulin and water in Caguas, Puerto Rico", "request"),
        make_routed("fb-off", "Offering water and insulin in Caguas", "offer"),
        make_routed("fb-bad", "Prayers for everyone in Puerto Rico", "request"),
    )
    _open(page, dashboard)
    _card(page, "fb-req").wait_for()
    page.wait_for_selector('#matches li[data-id="fb-req"] .match-offer')
    assert "same place: Caguas" in page.text_content('#matches li[data-id="fb-req"] .why')

    _card(page, "fb-req").locator(".act-handled").click()
    _card(page, "fb-req").wait_for(state="detached")  # handled: gone from the open feed
    page.wait_for_selector('#matches li[data-id="fb-req"]', state="detached")
    bad = _card(page, "fb-bad")
    bad.locator(".act-label").select_option("emotional_support")
    bad.locator(".act-misclassified").click()
    page.wait_for_selector('#feed li[data-id="fb-bad"] .badge.state')

    messages = dashboard.feedback(expect=2)
    by_id = {m["post_id"]: m for m in messages}
    assert by_id["fb-req"]["action"] == "handled"
    assert by_id["fb-req"]["corrected_label"] is None
    assert by_id["fb-bad"]["action"] == "misclassified"
    assert by_id["fb-bad"]["corrected_label"] == "emotional_support"
    assert by_id["fb-bad"]["model"] == "tiny-test@0.0.1"
    assert by_id["fb-bad"]["text"] == "Prayers for everyone in Puerto Rico"
    page.check("#filter-handled")
    _card(page, "fb-req").wait_for()  # still there when asked for


def test_review_queue_labelling_by_keyboard(page, dashboard) -> None:
    # three review items; the labelling view shows the least certain first
    dashboard.produce(
        make_routed("lb-a", "Is anyone collecting blankets in Ponce?", "offer", 0.45),
        make_routed("lb-b", "Water needed at the shelter in Utuado", "other", 0.30),
        make_routed("lb-c", "So sad to see the damage", "emotional_support", 0.40),
        make_routed("lb-sure", "Free meals at the church on Calle Luna", "offer", 0.95),
    )
    _open(page, dashboard)
    card = page.locator("#label-card")
    page.wait_for_selector('#label-card[data-id="lb-b"]')  # margin 7 pts: most uncertain
    assert "3 in the review queue" in page.text_content("#label-queue")
    assert "Water needed at the shelter in Utuado" in card.text_content()
    page.keyboard.press("1")  # request: the model said other → misclassified
    page.wait_for_selector('#label-card[data-id="lb-c"]')
    page.keyboard.press("Enter")  # confirm emotional support
    page.wait_for_selector('#label-card[data-id="lb-a"]')
    page.keyboard.press("s")  # skip: nothing written
    page.wait_for_selector("#label-card .empty")
    expect(page.locator("#label-counts")).to_have_text(re.compile(r"^2 labels"))  # CSP: no eval
    counts = page.text_content("#label-counts")
    assert "request 1" in counts and "support 1" in counts
    assert "2 since tiny-test@0.0.1" in page.text_content("#label-since")

    by_id = {m["post_id"]: m for m in dashboard.feedback(expect=2)}
    assert set(by_id) == {"lb-b", "lb-c"}
    assert by_id["lb-b"]["action"] == "misclassified"
    assert by_id["lb-b"]["corrected_label"] == "request" and not by_id["lb-b"]["confirmed"]
    assert by_id["lb-c"]["action"] == "confirmed" and by_id["lb-c"]["confirmed"]
    assert by_id["lb-c"]["corrected_label"] is None
    assert abs(by_id["lb-b"]["probabilities"]["other"] - 0.30) < 1e-9


def test_a_retweet_storm_is_one_card_with_x20(page, dashboard) -> None:
    plea = "URGENT: my grandmother in Ponce needs insulin, roads are blocked"
    storm = [
        make_routed(f"rt-{i}", ("RT @n: " if i else "") + plea, "request", cluster=("rt-0", i + 1))
        for i in range(20)
    ]
    other = make_routed("solo", "We can deliver bottled water to Arecibo", "offer")
    _open(page, dashboard)
    dashboard.produce(*storm[:5])
    _card(page, "rt-0").locator(".copies-n").wait_for()
    dashboard.produce(*storm[5:], other)
    _card(page, "solo").wait_for()
    page.wait_for_function(
        "() => document.querySelector('#feed li[data-id=\"rt-0\"] .copies-n')"
        "?.textContent === '×20'"
    )
    assert page.locator("#feed li").count() == 2  # 21 posts, two cards
    card = _card(page, "rt-0")
    assert plea in card.locator(".item-text").text_content()
    assert "latest" in card.locator(".copies-latest").text_content()
    page.wait_for_function(
        "() => document.getElementById('totals').textContent.startsWith('21 posts · 2 distinct')"
    )
