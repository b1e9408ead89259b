"""Dashboard fixtures: a dashboard on the session's Tansu broker, routed-message helpers, and
headless Chromium (Debian's, driven by Playwright-Python)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_helpers import RunningDashboard

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def dashboard(kafka_settings) -> Iterator[RunningDashboard]:
    """A dashboard on a fresh topic prefix (topics created as the job does: 2 partitions)."""
    from pipeline.kafka.admin import ensure_topics
    from pipeline.routing import output_topics

    prefix = f"dash{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_settings, output_topics(prefix), partitions=2)
    running = RunningDashboard(kafka_settings, prefix)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium via Playwright (skipped only when Chromium is not installed)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed (WITH_BROWSER=1 bash deploy/install.sh installs it)")
    from playwright.sync_api import sync_playwright  # a dev dependency: missing = a real failure

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
