"""The responder's dashboard: a small stdlib HTTP server with server-sent events.

Stdlib ``ThreadingHTTPServer`` (no web framework: one page, a JSON snapshot, one event stream
and one POST; a thread per connection is plenty for a handful of responders).

Security: every request but ``/healthz`` needs the access token, given once as ``/?token=…``
(answered with a redirect to ``/`` that sets it as an HttpOnly, SameSite=Strict cookie, so it
leaves the address bar and history) or as ``Authorization: Bearer …`` (scripts). Tokens are
compared in constant time and never logged (request logs drop query strings). Every response
carries a strict Content-Security-Policy (``default-src 'self'``, no inline script or style),
``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and ``Referrer-Policy:
no-referrer``. The page renders post text with ``textContent`` only. The feedback POST also
needs a JSON body and a same-origin ``Origin`` when the browser sends one.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kafka.errors import KafkaError

from models.errors import TriageError
from models.package import LABELS
from pipeline.dashboard.feed import FeedbackWriter, RoutedFeed
from pipeline.dashboard.health import DEFAULT_METRICS_URL, MetricsScraper
from pipeline.dashboard.items import feedback_message
from pipeline.dashboard.matching import match_all
from pipeline.dashboard.store import CLOSE, FeedStore
from pipeline.enrich import resource_types
from pipeline.feedback import InvalidFeedback, parse_feedback
from pipeline.kafka.config import KafkaSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "labeller.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 4096
SSE_HEARTBEAT_S = 15.0
HEALTH_EVERY_S = 5.0
MATCHES_EVERY_S = 2.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
UNAUTHORIZED_TEXT = (
    "401 Unauthorized: this dashboard needs its access token. Open the URL printed by "
    "`triage dashboard` or `triage demo` (it ends in ?token=...).\n"
)


@dataclass
class Dashboard:
    """Everything one dashboard serves: the store, the Kafka feed, the metrics scraper."""

    settings: KafkaSettings
    prefix: str
    token: str
    metrics_url: str | None = DEFAULT_METRICS_URL
    since_hours: float | None = None
    window: int = 2000
    store: FeedStore = field(init=False)
    feed: RoutedFeed = field(init=False)
    writer: FeedbackWriter = field(init=False)
    scraper: MetricsScraper = field(init=False)
    cookie_name: str = "triage_dashboard"
    _stop: threading.Event = field(default_factory=threading.Event)
    _health: dict[str, Any] = field(default_factory=dict)
    _matches: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = FeedStore(self.window)
        self.feed = RoutedFeed(self.settings, self.prefix, self.store, self.since_hours)
        self.writer = FeedbackWriter(self.settings, self.prefix)
        self.scraper = MetricsScraper(self.metrics_url)
        self._ticker = threading.Thread(target=self._tick, name="dashboard-ticker", daemon=True)

    def start(self) -> None:
        self.feed.start()
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self.feed.stop()
        self.writer.close()
        self.store.close_all()

    # ---------------------------------------------------------------- state for the page

    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(
            candidate.encode("utf-8"), self.token.encode("utf-8")
        )

    def health(self) -> dict[str, Any]:
        metrics = self.scraper.summary()
        return {
            "metrics": metrics,
            "model": metrics.get("model") or self.store.latest_model(),
            "dead_letters": self.store.dead_letters(),
            "feed": {
                "connected": self.feed.connected.is_set(),
                "error": self.feed.error,
                "records_read": self.feed.records_read,
                "window": self.store.size(),
            },
        }

    def snapshot(self) -> dict[str, Any]:
        items = self.store.items()
        return {
            "meta": {
                "prefix": self.prefix,
                "labels": list(LABELS),
                "resources": list(resource_types()),
                "window": self.window,
            },
            "items": items,
            "counts": self.store.counts(),
            "totals": self.store.totals(),
            "labels": self.store.label_counts(),
            "matches": match_all(items),
            "health": self.health(),
        }

    def _tick(self) -> None:
        """Push counts (1/s when changed), matches (every 2 s when changed), health (5 s)."""
        counts_seen = matches_seen = labels_seen = -1
        next_health = next_matches = 0.0
        while not self._stop.wait(1.0):
            now = time.monotonic()
            if self.store.counts_version != counts_seen:
                counts_seen = self.store.counts_version
                self.store.publish("counts", self.store.counts())
                self.store.publish("totals", self.store.totals())
            if self.store.labels_version != labels_seen:
                labels_seen = self.store.labels_version
                self.store.publish("labels", self.store.label_counts())
            if self.store.version != matches_seen and now >= next_matches:
                matches_seen = self.store.version
                next_matches = now + MATCHES_EVERY_S
                self.store.publish("matches", match_all(self.store.items()))
            if now >= next_health:
                next_health = now + HEALTH_EVERY_S
                self.scraper.scrape()
                self.store.publish("health", self.health())

    def submit_feedback(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Validate a feedback POST, write it to Kafka, apply it; (HTTP status, JSON reply)."""
        post_id, action = body.get("id"), body.get("action")
        corrected = body.get("corrected_label") or None
        if not isinstance(post_id, str) or not isinstance(action, str):
            return 400, {"error": "give 'id' and 'action' as strings"}
        item = self.store.get(post_id)
        if item is None:
            return 404, {"error": "no such post in the dashboard's window"}
        try:
            message = feedback_message(item, action, corrected)
        except ValueError as exc:
            return 400, {"error": str(exc)}
        try:
            self.writer.send(message)
        except (KafkaError, TriageError) as exc:
            return 502, {"error": f"could not write feedback to Kafka: {exc}"}
        try:
            label: str | None = parse_feedback(message).label
        except InvalidFeedback:  # e.g. "misclassified" without the right label: no label
            label = None
        self.store.apply_feedback(post_id, action, message["corrected_label"], label, item["model"])
        return 200, {"ok": True, "feedback": message}


class _Handler(BaseHTTPRequestHandler):
    server_version = "triage-dashboard"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    dashboard: Dashboard  # set on the subclass built per server

    # ---------------------------------------------------------------- plumbing

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        """Log without query strings: the token must never reach a log."""
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        log.debug("%s %s %s", getattr(self, "command", "-"), path, format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, urlsplit(self.path).path, code)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and self.dashboard.token_ok(auth[7:].strip()):
            return True
        try:
            cookies = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = cookies.get(self.dashboard.cookie_name)
        return morsel is not None and self.dashboard.token_ok(morsel.value)

    # ---------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self._text(200, "ok\n")
        if url.path == "/" and "token" in parse_qs(url.query):
            return self._login(parse_qs(url.query)["token"][0])
        if not self._authorized():
            return self._text(401, UNAUTHORIZED_TEXT, {"WWW-Authenticate": "Bearer"})
        if url.path in ("/", "/index.html"):
            return self._send(200, _static("index.html"), "text/html; charset=utf-8")
        if url.path.startswith("/static/") and url.path[8:] in STATIC_FILES:
            name = url.path[8:]
            return self._send(200, _static(name), STATIC_FILES[name])
        if url.path == "/api/state":
            return self._json(200, self.dashboard.snapshot())
        if url.path == "/api/stream":
            return self._stream()
        return self._text(404, "404 Not Found\n")

    def do_POST(self) -> None:  # noqa: N802
        self.close_connection = True  # a refused POST may leave its body unread
        url = urlsplit(self.path)
        if not self._authorized():
            return self._text(401, UNAUTHORIZED_TEXT, {"WWW-Authenticate": "Bearer"})
        if url.path != "/api/feedback":
            return self._text(404, "404 Not Found\n")
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host', '')}":
            return self._json(403, {"error": "cross-origin request refused"})
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self._json(415, {"error": "send application/json"})
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            return self._json(413, {"error": f"body must be 1-{MAX_BODY_BYTES} bytes"})
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self._json(400, {"error": "body is not JSON"})
        if not isinstance(body, dict):
            return self._json(400, {"error": "body must be a JSON object"})
        status, reply = self.dashboard.submit_feedback(body)
        return self._json(status, reply)

    def _login(self, token: str) -> None:
        if not self.dashboard.token_ok(token):
            return self._text(401, UNAUTHORIZED_TEXT)
        cookie = (
            f"{self.dashboard.cookie_name}={self.dashboard.token}; Path=/; HttpOnly; "
            "SameSite=Strict"
        )
        self.send_response(HTTPStatus.SEE_OTHER)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Set-Cookie", cookie)
        self.send_header("Location", "/")
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _stream(self) -> None:
        """Server-sent events: a snapshot, then item/status/counts/matches/health events."""
        store = self.dashboard.store
        listener = store.subscribe()  # before the snapshot: nothing falls in between
        self.send_response(200)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 2000\n\n")
            self._event("snapshot", self.dashboard.snapshot())
            while True:
                try:
                    event, data = listener.get(timeout=SSE_HEARTBEAT_S)
                except queue.Empty:  # keep the connection alive through proxies
                    self.wfile.write(b": ping\n\n")
                    self.wfile.flush()
                    continue
                if event is CLOSE:
                    return
                self._event(event, data)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return
        finally:
            store.unsubscribe(listener)

    def _event(self, event: str, data: Any) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        self.wfile.write(f"event: {event}\ndata: {payload}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser closing its connection is normal; anything else is logged, not printed."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        log.warning("dashboard request from %s failed", client_address[0], exc_info=True)


_STATIC_CACHE: dict[str, bytes] = {}


def _static(name: str) -> bytes:
    if name not in _STATIC_CACHE:
        _STATIC_CACHE[name] = (STATIC_DIR / name).read_bytes()
    return _STATIC_CACHE[name]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def start_dashboard(
    settings: KafkaSettings,
    prefix: str,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    *,
    host: str = "127.0.0.1",
    metrics_url: str | None = DEFAULT_METRICS_URL,
    since_hours: float | None = None,
    window: int = 2000,
) -> tuple[str, Callable[[], None]]:
    """Serve the dashboard in background threads; return (URL with token, stop function).

    ``port=0`` picks a free port. ``token=None`` makes a random one (``secrets``). The URL
    carries the token: print it for the user, do not log it.
    """
    if not prefix:
        raise TriageError("--prefix is empty: give the job's output prefix (e.g. triage)")
    if token is not None and len(token) < 16:
        raise TriageError("--token is too short: use at least 16 characters (or omit it)")
    dashboard = Dashboard(
        settings=settings,
        prefix=prefix,
        token=token or secrets.token_urlsafe(24),
        metrics_url=metrics_url,
        since_hours=since_hours,
        window=window,
    )
    handler = type("DashboardHandler", (_Handler,), {"dashboard": dashboard})
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        raise TriageError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port (0 = any free)"
        ) from exc
    real_port = server.server_address[1]
    dashboard.cookie_name = f"triage_dashboard_{real_port}"  # one cookie per dashboard port
    if not _is_loopback(host):
        log.warning(
            "dashboard listens on %s over plain HTTP: put it behind TLS (a reverse proxy) "
            "before exposing it beyond this machine",
            host,
        )
    dashboard.start()
    thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
    thread.start()
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{real_port}/?token={dashboard.token}"
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        dashboard.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)

    return url, stop
