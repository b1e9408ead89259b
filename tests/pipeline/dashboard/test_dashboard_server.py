"""The dashboard's HTTP surface on a real broker: auth, security headers, the feedback API,
server-sent events, restart read-back, --since-hours, the CLI and the demo hook."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from dashboard_helpers import RunningDashboard, make_routed

from pipeline.dashboard import start_dashboard

pytestmark = pytest.mark.integration


def _request(
    dashboard, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    netloc = urlsplit(dashboard.base).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    payload = (
        json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    )
    connection.request(method, path, body=payload, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def _auth(dashboard, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dashboard.token}", **extra}


def _wait_for_items(dashboard, count: int, timeout_s: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, _, body = _request(dashboard, "GET", "/api/state", headers=_auth(dashboard))
        items = json.loads(body)["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def test_every_route_needs_the_token(dashboard) -> None:
    for method, path in (
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", "/api/state"),
        ("GET", "/api/stream"),
        ("POST", "/api/feedback"),
    ):
        status, headers, _ = _request(dashboard, method, path)
        assert status == 401, path
        wrong = {"Authorization": "Bearer " + "x" * 32, "Cookie": "triage_dashboard_1=nope"}
        assert _request(dashboard, method, path, headers=wrong)[0] == 401, path
    assert _request(dashboard, "GET", "/healthz")[0] == 200  # liveness probe, no data


def test_login_sets_a_strict_httponly_cookie_and_drops_the_token(dashboard) -> None:
    status, headers, _ = _request(dashboard, "GET", f"/?token={dashboard.token}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    name_value = cookie.split(";")[0]
    status, headers, body = _request(dashboard, "GET", "/", headers={"Cookie": name_value})
    assert status == 200 and b'<script src="/static/app.js"' in body
    assert dashboard.token.encode() not in body


def test_security_headers_and_no_inline_script(dashboard) -> None:
    status, headers, body = _request(dashboard, "GET", "/", headers=_auth(dashboard))
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert not re.search(rb"<script(?![^>]*\bsrc=)", body)  # every script is a file
    assert not re.search(rb"\son\w+=", body)  # no inline event handlers
    assert b"<style" not in body and b"style=" not in body
    status, headers, js = _request(dashboard, "GET", "/static/app.js", headers=_auth(dashboard))
    assert headers["content-type"].startswith("text/javascript")
    assert b"innerHTML" not in js.replace(b"never innerHTML", b"")
    assert _request(dashboard, "GET", "/static/../server.py", headers=_auth(dashboard))[0] == 404


def test_feedback_api_validation(dashboard) -> None:
    dashboard.produce(make_routed("v1", "need water in Ponce", "request"))
    _wait_for_items(dashboard, 1)
    post = lambda body, **h: _request(  # noqa: E731
        dashboard, "POST", "/api/feedback", body, _auth(dashboard, **h)
    )
    json_type = {"Content-Type": "application/json"}
    assert post({"id": "v1", "action": "handled"})[0] == 415  # not JSON
    assert post({"id": "v1", "action": "delete"}, **json_type)[0] == 400
    assert (
        post({"id": "v1", "action": "misclassified", "corrected_label": "x"}, **json_type)[0] == 400
    )
    assert post({"id": "nope", "action": "handled"}, **json_type)[0] == 404
    assert post(b"[1]", **json_type)[0] == 400
    assert post(b"{", **json_type)[0] == 400
    assert post(b"x" * 5000, **json_type)[0] == 413
    evil = {"Origin": "http://evil.example", **json_type}
    assert post({"id": "v1", "action": "handled"}, **evil)[0] == 403
    status, _, body = post({"id": "v1", "action": "handled"}, **json_type)
    assert status == 200 and json.loads(body)["feedback"]["post_id"] == "v1"
    assert [m["post_id"] for m in dashboard.feedback()] == ["v1"]


def test_event_stream_sends_snapshot_then_live_items(dashboard) -> None:
    netloc = urlsplit(dashboard.base).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    connection.request("GET", "/api/stream", headers=_auth(dashboard))
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")

    def next_event() -> tuple[str, Any]:
        name = None
        while True:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                return name, json.loads(line[6:])

    name, snapshot = next_event()
    assert name == "snapshot" and snapshot["items"] == [] and snapshot["meta"]["labels"]
    dashboard.produce(make_routed("s1", "Offering generators in Caguas", "offer"))
    while True:
        name, data = next_event()
        if name == "item":
            break
    assert data["id"] == "s1" and data["resources"] == ["power"]
    connection.close()


def test_restart_reads_back_feedback_and_since_hours(dashboard, kafka_settings) -> None:
    dashboard.produce(
        make_routed("r-new", "need food in Ponce", "request"),
        make_routed("r-done", "need water in Ponce", "request"),
    )
    _wait_for_items(dashboard, 2)
    status, _, _ = _request(
        dashboard,
        "POST",
        "/api/feedback",
        {"id": "r-done", "action": "handled"},
        _auth(dashboard, **{"Content-Type": "application/json"}),
    )
    assert status == 200
    _, old = make_routed("r-old", "need tents in Ponce", "request")
    three_hours_ago = int((time.time() - 3 * 3600) * 1000)
    dashboard.produce(("requests", old), timestamp_ms=three_hours_ago)

    again = RunningDashboard(kafka_settings, dashboard.prefix, since_hours=1)
    try:
        deadline = time.monotonic() + 10
        items: dict[str, dict] = {}
        while items.get("r-done", {}).get("status") != "handled" and time.monotonic() < deadline:
            items = {i["id"]: i for i in _wait_for_items(again, 2)}
            time.sleep(0.2)
        assert set(items) == {"r-new", "r-done"}  # r-old is older than --since-hours 1
        assert items["r-done"]["status"] == "handled"  # read back from <prefix>.feedback
        assert items["r-new"]["status"] == "open"
    finally:
        again.stop()


def test_token_never_logged(dashboard, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="pipeline.dashboard")
    _request(dashboard, "GET", f"/?token={dashboard.token}")
    _request(dashboard, "GET", "/api/state", headers=_auth(dashboard))
    _request(dashboard, "GET", "/?token=bad-token-bad-token")
    assert caplog.records  # requests are logged (at debug)...
    assert dashboard.token not in caplog.text  # ...without the token
    assert "bad-token" not in caplog.text


def test_bad_arguments_are_one_line_errors(kafka_settings) -> None:
    from models.errors import TriageError

    with pytest.raises(TriageError, match="too short"):
        start_dashboard(kafka_settings, "p", 0, "short")
    with pytest.raises(TriageError, match="prefix"):
        start_dashboard(kafka_settings, "", 0, None)
    url, stop = start_dashboard(kafka_settings, "p", 0, None, metrics_url=None)
    try:
        taken = int(urlsplit(url).port)
        with pytest.raises(TriageError, match="another --port"):
            start_dashboard(kafka_settings, "p", taken, None)
    finally:
        stop()


def test_cli_serves_until_interrupted(kafka_broker, tmp_path: Path) -> None:
    env = {**os.environ, "TRIAGE_DASHBOARD_TOKEN": "t" * 24, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "dashboard", "--port", "0", "--prefix", "cli",
         "--bootstrap-servers", kafka_broker.bootstrap_servers, "--metrics-url", ""],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        line = ""
        while "open http" not in line:
            line = process.stdout.readline()
            assert line, "the command ended without printing its URL"
        url = line.split("open ", 1)[1].strip()
        assert url.endswith("/?token=" + "t" * 24)
        netloc = urlsplit(url).netloc
        connection = http.client.HTTPConnection(netloc, timeout=10)
        connection.request("GET", "/api/state", headers={"Authorization": "Bearer " + "t" * 24})
        assert json.loads(connection.getresponse().read())["meta"]["prefix"] == "cli"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0


def test_demo_hook_starts_the_dashboard(kafka_settings, tmp_path: Path) -> None:
    from pipeline.dashboard_demo import start_for_demo
    from pipeline.demo import EXTRA_SERVICE_STARTERS, DemoContext

    assert start_for_demo in EXTRA_SERVICE_STARTERS
    context = DemoContext(kafka_settings, "in", "demo", tmp_path, None, tmp_path)
    service = start_for_demo(context)
    try:
        assert service.name == "dashboard" and "/?token=" in service.url
        netloc = urlsplit(service.url).netloc
        connection = http.client.HTTPConnection(netloc, timeout=10)
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    finally:
        service.stop()
