"""The health strip: the job's Prometheus metrics, scraped and summarised.

Reads the text exposition (``prometheus_client.parser``) of the job's ``/metrics``: posts
consumed and routed, consumer lag, dead letters by reason, end-to-end latency and the model in
service. Throughput is the routed-count delta between two scrapes.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

DEFAULT_METRICS_URL = "http://127.0.0.1:9108/metrics"
SCRAPE_TIMEOUT_S = 2.0


def parse_metrics(text: str) -> dict[str, Any]:
    """Totals from one scrape: consumed, routed, lag, dead letters (by reason), latency, model."""
    totals: dict[str, Any] = {
        "consumed": 0.0,
        "routed": 0.0,
        "lag": 0.0,
        "dead_letters": 0.0,
        "dead_letters_by_reason": {},
        "latency_sum": 0.0,
        "latency_count": 0.0,
        "model": None,
    }
    seen_lag = False
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "triage_posts_consumed_total":
                totals["consumed"] += value
            elif name == "triage_posts_routed_total":
                totals["routed"] += value
            elif name == "triage_consumer_lag_messages":
                totals["lag"] += value
                seen_lag = True
            elif name == "triage_dead_letters_total":
                totals["dead_letters"] += value
                reason = labels.get("reason", "unknown")
                by_reason = totals["dead_letters_by_reason"]
                by_reason[reason] = by_reason.get(reason, 0.0) + value
            elif name == "triage_end_to_end_latency_seconds_sum":
                totals["latency_sum"] += value
            elif name == "triage_end_to_end_latency_seconds_count":
                totals["latency_count"] += value
            elif name == "triage_model_info" and labels.get("name"):
                version = labels.get("version")
                totals["model"] = f"{labels['name']}@{version}" if version else labels["name"]
    if not seen_lag:
        totals["lag"] = None
    return totals


@dataclass
class MetricsScraper:
    """Scrapes one metrics URL; ``summary()`` is what the page's health strip shows."""

    url: str | None
    _previous: tuple[float, float] | None = field(default=None, repr=False)
    _last: dict[str, Any] = field(default_factory=dict, repr=False)

    def scrape(self) -> dict[str, Any]:
        """Fetch and summarise; never raises (an unreachable job is a state, not an error)."""
        if not self.url:
            self._last = {"ok": False, "error": "no metrics URL configured"}
            return self._last
        try:
            with urllib.request.urlopen(self.url, timeout=SCRAPE_TIMEOUT_S) as response:
                text = response.read().decode("utf-8", errors="replace")
            totals = parse_metrics(text)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            self._last = {"ok": False, "error": f"metrics unreachable: {reason}"}
            self._previous = None
            return self._last
        now = time.monotonic()
        throughput = None
        if self._previous is not None:
            then, routed_then = self._previous
            if now > then and totals["routed"] >= routed_then:
                throughput = (totals["routed"] - routed_then) / (now - then)
        self._previous = (now, totals["routed"])
        count = totals.pop("latency_count")
        latency_sum = totals.pop("latency_sum")
        self._last = {
            "ok": True,
            **totals,
            "throughput_per_s": throughput,
            "mean_latency_s": latency_sum / count if count else None,
        }
        return self._last

    def summary(self) -> dict[str, Any]:
        return dict(self._last)
