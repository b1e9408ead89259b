"""Typed options of a backfill (built by the CLI, carried to every Dask worker)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pipeline.backfill.chunks import DEFAULT_CHUNK_ROWS
from pipeline.contract import DEFAULT_MAX_TEXT_CHARS

DEFAULT_DASHBOARD = ":8787"


def default_workers() -> int:
    """One Dask worker process per core."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BackfillConfig:
    """What to classify, where to write it, and on which Dask cluster."""

    inputs: tuple[str, ...]  # globs of .jsonl / .csv / .parquet files
    output: str  # folder: labels/part-*.parquet, dead_letters.parquet, _backfill.json
    model: str | None = None  # package folder or shipped name (default: models/DEFAULT)
    workers: int = 1  # local cluster size (ignored with ``scheduler``)
    scheduler: str | None = None  # tcp://HOST:PORT of a running Dask scheduler
    dashboard_address: str = DEFAULT_DASHBOARD  # local cluster's dashboard (":0" = any port)
    threads: int = 1  # ONNX Runtime threads per worker
    batch_size: int = 8  # posts per ONNX Runtime call
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    text_column: str = "text"
    id_column: str | None = None
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    resume: bool = False  # keep finished chunks of an earlier run into ``output``
