"""Registers the dashboard with `triage demo` (imported by pipeline.demo's service hook)."""

from __future__ import annotations

from pipeline.demo import EXTRA_SERVICE_STARTERS, DemoContext, ExtraService

DEMO_PORT = 8765


def start_for_demo(context: DemoContext) -> ExtraService:
    """Serve the dashboard on 127.0.0.1:8765 (or a free port) with a fresh random token."""
    from pipeline.broker import port_accepts
    from pipeline.dashboard import start_dashboard

    port = 0 if port_accepts(DEMO_PORT) else DEMO_PORT
    url, stop = start_dashboard(
        context.settings, context.output_prefix, port, None, metrics_url=context.metrics_url
    )
    return ExtraService("dashboard", url, stop)


if start_for_demo not in EXTRA_SERVICE_STARTERS:
    EXTRA_SERVICE_STARTERS.append(start_for_demo)
