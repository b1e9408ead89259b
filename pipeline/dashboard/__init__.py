"""The responder's web dashboard: live feed, per-minute chart, matching, feedback, health.

``start_dashboard(settings, prefix, port, token) -> (url, stop)`` serves it in background
threads (used by `triage dashboard` and by `triage demo`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["start_dashboard"]


def start_dashboard(*args: Any, **kwargs: Any) -> tuple[str, Callable[[], None]]:
    """See :func:`pipeline.dashboard.server.start_dashboard` (imported lazily: kafka is heavy)."""
    from pipeline.dashboard.server import start_dashboard as start

    return start(*args, **kwargs)
