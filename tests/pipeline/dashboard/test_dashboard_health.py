"""The health strip's metrics: parsing the job's real exposition format, scraping over HTTP."""

from __future__ import annotations

import time

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
    start_http_server,
)

from pipeline.broker import free_port
from pipeline.dashboard.health import MetricsScraper, parse_metrics


def _registry() -> tuple[CollectorRegistry, Counter]:
    """The job's metric names (as in pipeline.metrics) on a private registry."""
    registry = CollectorRegistry()
    consumed = Counter("triage_posts_consumed", "", ["topic", "partition"], registry=registry)
    routed = Counter("triage_posts_routed", "", ["route", "label"], registry=registry)
    dead = Counter("triage_dead_letters", "", ["reason"], registry=registry)
    lag = Gauge("triage_consumer_lag_messages", "", ["topic", "partition"], registry=registry)
    latency = Histogram("triage_end_to_end_latency_seconds", "", registry=registry)
    model = Info("triage_model", "", registry=registry)
    consumed.labels("in", "0").inc(10)
    consumed.labels("in", "1").inc(5)
    routed.labels("requests", "request").inc(4)
    routed.labels("other", "other").inc(9)
    dead.labels("invalid_json").inc(2)
    dead.labels("empty_text").inc()
    lag.labels("in", "0").set(7)
    lag.labels("in", "1").set(3)
    latency.observe(0.1)
    latency.observe(0.3)
    model.info({"name": "minilm-int8", "version": "1.0.0"})
    return registry, routed


def test_parse_the_jobs_exposition() -> None:
    registry, _ = _registry()
    totals = parse_metrics(generate_latest(registry).decode())
    assert totals["consumed"] == 15
    assert totals["routed"] == 13
    assert totals["lag"] == 10
    assert totals["dead_letters"] == 3
    assert totals["dead_letters_by_reason"] == {"invalid_json": 2, "empty_text": 1}
    assert totals["latency_sum"] == pytest.approx(0.4) and totals["latency_count"] == 2
    assert totals["model"] == "minilm-int8@1.0.0"


def test_scraper_over_http_gives_throughput() -> None:
    registry, routed = _registry()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        scraper = MetricsScraper(f"http://127.0.0.1:{port}/metrics")
        first = scraper.scrape()
        assert first["ok"] and first["throughput_per_s"] is None  # needs two scrapes
        assert first["mean_latency_s"] == pytest.approx(0.2)
        routed.labels("offers", "offer").inc(20)
        time.sleep(0.2)
        second = scraper.scrape()
        assert 20 / 5.0 < second["throughput_per_s"] <= 20 / 0.2  # 20 posts in 0.2-5 s
        assert scraper.summary() == second
    finally:
        server.shutdown()
        thread.join(5)


def test_unreachable_or_unset_metrics_is_a_state_not_an_error() -> None:
    down = MetricsScraper(f"http://127.0.0.1:{free_port()}/metrics").scrape()
    assert down["ok"] is False and "unreachable" in down["error"]
    assert MetricsScraper(None).scrape() == {"ok": False, "error": "no metrics URL configured"}
