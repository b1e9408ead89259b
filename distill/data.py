"""Loaders for the crisis datasets in ``../shared/data`` and the project's label mapping.

Every source folder holds one CSV with columns ``text, label, dataset, event, split``. Rows are
never copied into the repository: they are read from the data folder at run time
(``TRIAGE_DATA`` or ``<repo>/../shared/data``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl

from models.errors import TriageError

REPO_ROOT = Path(__file__).resolve().parents[1]
MAPPING_FILE = Path(__file__).resolve().parent / "label_mapping.csv"
SOURCES: tuple[str, ...] = (
    "humaid_maria",
    "crisisnlp_volunteers",
    "crisisnlp_cf",
    "crisislext26",
    "crisislext6",
    "kaggle",
)
"""Source folders, in dedup priority order (the first copy of a duplicate wins)."""

TARGETS: tuple[str, ...] = (
    "request",
    "offer",
    "emotional_support",
    "other",
    "actionable",
    "unlabelled",
)
"""Mapping targets: the four labels, ``actionable`` (request-or-offer merged by the source),
``unlabelled`` (no usable type label: transfer text or informative-only tests)."""

_LANG_SUFFIX = re.compile(r"_(en|cl|esp|fr)$")


def data_dir(path: str | Path | None = None) -> Path:
    """The shared data folder: ``path``, else ``$TRIAGE_DATA``, else ``<repo>/../shared/data``."""
    chosen = Path(path or os.environ.get("TRIAGE_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not chosen.is_dir():
        raise TriageError(
            f"data folder {chosen} does not exist: pass --data-dir DIR or set TRIAGE_DATA"
        )
    return chosen


def event_id(event: str | None, source: str) -> str:
    """Canonical crisis id shared across sources (lower case, language suffix removed)."""
    if not event:
        return source
    return _LANG_SUFFIX.sub("", event.strip().lower())


def event_language(event: str | None) -> str:
    """``en`` unless the event name carries a non-English suffix (``_cl``, ``_esp``, ``_fr``)."""
    match = _LANG_SUFFIX.search((event or "").strip().lower())
    return {"cl": "es", "esp": "es", "fr": "fr"}.get(match.group(1), "en") if match else "en"


def load_mapping(path: str | Path = MAPPING_FILE) -> pl.DataFrame:
    """The reviewed label mapping: source, source_label, target, informative, comment."""
    mapping = pl.read_csv(path, infer_schema_length=0).with_columns(
        pl.col("informative").fill_null("")
    )
    bad = mapping.filter(~pl.col("target").is_in(TARGETS))
    if bad.height:
        raise TriageError(f"{path}: unknown target {bad['target'][0]!r} (use one of {TARGETS})")
    dup = mapping.filter(pl.struct("source", "source_label").is_duplicated())
    if dup.height:
        raise TriageError(f"{path}: duplicate row for {dup.row(0)[:2]}")
    return mapping


def load_source(name: str, root: str | Path | None = None) -> pl.DataFrame:
    """One source CSV as ``source, event, event_id, language, split, label, raw_text``."""
    csv = data_dir(root) / name / f"{name}.csv"
    if not csv.is_file():
        raise TriageError(f"{csv} is missing: is {data_dir(root)} the shared data folder?")
    frame = pl.read_csv(csv, infer_schema_length=0)
    return frame.select(
        pl.lit(name).alias("source"),
        pl.col("event").fill_null(name),
        pl.col("event")
        .fill_null("")
        .map_elements(lambda e: event_id(e, name), return_dtype=pl.Utf8)
        .alias("event_id"),
        pl.col("event")
        .fill_null("")
        .map_elements(event_language, return_dtype=pl.Utf8)
        .alias("language"),
        pl.col("split"),
        pl.col("label"),
        pl.col("text").fill_null("").alias("raw_text"),
    )


def load_all(root: str | Path | None = None, sources: tuple[str, ...] = SOURCES) -> pl.DataFrame:
    """Every source with its mapped ``target`` and ``informative`` columns.

    Raises TriageError if a source label has no row in the mapping (review it first).
    """
    mapping = load_mapping()
    frames = [load_source(name, root) for name in sources]
    rows = pl.concat(frames).with_row_index("row_id")
    joined = rows.join(
        mapping.select("source", pl.col("source_label").alias("label"), "target", "informative"),
        on=["source", "label"],
        how="left",
    )
    missing = joined.filter(pl.col("target").is_null())
    if missing.height:
        src, label = missing.select("source", "label").row(0)
        raise TriageError(
            f"label {label!r} of {src} has no row in {MAPPING_FILE.name}: add one (with a comment)"
        )
    return joined.sort("row_id")
