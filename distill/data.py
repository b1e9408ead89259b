"""Loaders for the crisis datasets in ``../shared/data`` and the project's label mapping.

Every source folder holds one CSV with columns ``text, label, dataset, event, split`` (and
``lang`` for translations). Rows are never copied into the repository: they are read from the
data folder at run time (``TRIAGE_DATA`` or ``<repo>/../shared/data``).

- ``humaid`` (all 19 HumAID events) supersedes ``humaid_maria`` (the same Maria rows, verified
  identical in text, label and split): only ``humaid`` is in :data:`SOURCES`; ``humaid_maria``
  remains loadable (and mapped) for packages built before it was superseded.
- Multi-label sources (:data:`MULTI_LABEL_SOURCES`, labels joined by ``|``) take the target of
  their highest-priority part (:data:`TARGET_PRIORITY`: a request beats an offer, since a missed
  request is the costly error); ``label`` keeps the source's full value.
- Events are named differently by different sources: :data:`EVENT_ALIASES` maps them to one
  canonical id (``event_id``) so a crisis can be held out across every source.
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
    "humaid",
    "smerp2017",
    "crisismmd",
    "crisisnlp_volunteers",
    "crisisnlp_cf",
    "crisislext26",
    "crisislext6",
    "kaggle",
)
"""Source folders prepared by default, in dedup priority order (the first copy of a duplicate
wins: HumAID before CrisisMMD, whose 2017 events share tweets with it but lack a request class)."""

LEGACY_SOURCES: tuple[str, ...] = (
    "humaid_maria",
    "crisisnlp_volunteers",
    "crisisnlp_cf",
    "crisislext26",
    "crisislext6",
    "kaggle",
)
""":data:`SOURCES` before issue 13: the data every model package built before packages recorded
their training events (``triage.json`` → ``data.events``) was prepared from."""

EVALUATION_ONLY_SOURCES: tuple[str, ...] = ("crisismmd_translations",)
"""Mapped and loadable, never trained on (human translations of CrisisMMD tweets)."""

MAPPED_AS: dict[str, str] = {"crisismmd_translations": "crisismmd"}
"""Sources that reuse another source's mapping rows (same labels, same annotation)."""

MULTI_LABEL_SOURCES: frozenset[str] = frozenset({"smerp2017"})
LABEL_SEPARATOR = "|"

EVENT_ALIASES: dict[str, dict[str, str]] = {
    source: {
        "hurricane_harvey": "hurricane_harvey_2017",
        "hurricane_irma": "hurricane_irma_2017",
        "hurricane_maria": "hurricane_maria_2017",
        "mexico_earthquake": "puebla_mexico_earthquake_2017",  # 19 Sep 2017 (HumAID's name)
        "srilanka_floods": "srilanka_floods_2017",
        "california_wildfires": "california_wildfires_2017",  # Oct 2017, not HumAID's 2018 fire
        "iraq_iran_earthquake": "iraq_iran_earthquake_2017",
    }
    for source in ("crisismmd", "crisismmd_translations")
}
"""Per source: its event name (lower case) → the canonical id HumAID uses for that crisis."""

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

TARGET_PRIORITY: tuple[str, ...] = (
    "request",
    "offer",
    "actionable",
    "emotional_support",
    "other",
    "unlabelled",
)
"""Which part of a multi-label value decides its target: the first target in this order."""

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
    """Canonical crisis id shared across sources (lower case, language suffix removed, the
    source's own name for a crisis replaced by :data:`EVENT_ALIASES`)."""
    if not event:
        return source
    name = _LANG_SUFFIX.sub("", event.strip().lower())
    return EVENT_ALIASES.get(source, {}).get(name, name)


def label_parts(source: str, label: str) -> list[str]:
    """The single labels inside a source's label value (several for multi-label sources)."""
    if source in MULTI_LABEL_SOURCES:
        return [part.strip() for part in label.split(LABEL_SEPARATOR) if part.strip()]
    return [label]


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
    """One source CSV as ``source, event, event_id, language, split, label, raw_text``
    (``language`` from a ``lang`` column when the source has one, else from the event name)."""
    csv = data_dir(root) / name / f"{name}.csv"
    if not csv.is_file():
        raise TriageError(f"{csv} is missing: is {data_dir(root)} the shared data folder?")
    frame = pl.read_csv(csv, infer_schema_length=0)
    missing = {"text", "label", "event", "split"} - set(frame.columns)
    if missing:
        raise TriageError(f"{csv} lacks columns {sorted(missing)}")
    language = (
        pl.col("lang").fill_null("en")
        if "lang" in frame.columns
        else pl.col("event").fill_null("").map_elements(event_language, return_dtype=pl.Utf8)
    )
    return frame.select(
        pl.lit(name).alias("source"),
        pl.col("event").fill_null(name),
        pl.col("event")
        .fill_null("")
        .map_elements(lambda e: event_id(e, name), return_dtype=pl.Utf8)
        .alias("event_id"),
        language.alias("language"),
        pl.col("split"),
        pl.col("label"),
        pl.col("text").fill_null("").alias("raw_text"),
    )


def _mapped_label(source: str, label: str, targets: dict[tuple[str, str], tuple[str, str]]):
    """``(target, informative)`` of one source label value; None when a part is unmapped."""
    mapped = MAPPED_AS.get(source, source)
    found = [targets.get((mapped, part)) for part in label_parts(source, label)]
    if not found or any(hit is None for hit in found):
        return None
    return min(found, key=lambda hit: TARGET_PRIORITY.index(hit[0]))


def _unmapped_error(source: str, label: str) -> TriageError:
    return TriageError(
        f"label {label!r} of {source} has no row in {MAPPING_FILE.name}: add one (with a comment)"
    )


def map_labels(rows: pl.DataFrame, mapping: pl.DataFrame) -> pl.DataFrame:
    """Add ``target`` and ``informative`` to rows with ``source, label`` (see :func:`load_all`)."""
    targets = {
        (src, lab): (tgt, inf)
        for src, lab, tgt, inf in mapping.select(
            "source", "source_label", "target", "informative"
        ).iter_rows()
    }
    pairs = rows.select("source", "label").unique(maintain_order=True)
    resolved = []
    for source, label in pairs.iter_rows():
        hit = _mapped_label(source, label or "", targets)
        if hit is None:
            raise _unmapped_error(source, label)
        resolved.append((source, label, *hit))
    table = pl.DataFrame(
        resolved, schema=["source", "label", "target", "informative"], orient="row"
    )
    return rows.join(table, on=["source", "label"], how="left", nulls_equal=True)


def load_all(root: str | Path | None = None, sources: tuple[str, ...] = SOURCES) -> pl.DataFrame:
    """Every source with its mapped ``target`` and ``informative`` columns, in ``sources`` order.

    Raises TriageError if a source label has no row in the mapping (review it first).
    """
    rows = pl.concat([load_source(name, root) for name in sources]).with_row_index("row_id")
    return map_labels(rows, load_mapping()).sort("row_id")
