"""Preloaded by every local Dask worker: quiet Beam's import-time GCP warning, import early.

Dask imports this module (``preload``) when a worker process starts, before any task runs.
"""

from __future__ import annotations

import logging

logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
