"""Leave-one-crisis-out folds: which crises are folds, which posts a fold scores, reading them.

A fold is one crisis, named by its canonical ``event_id`` (:func:`distill.data.event_id`).
``triage distill prepare --loco`` holds the fold crises out (``DataConfig.loco_events``): every
row of those events, in every source, and every copy of their texts elsewhere (same dedup key)
stays out of train, dev and transfer (:mod:`distill.splits`). A fold's test posts are the
4-way-labelled posts of its crisis from its scoring source (HumAID; SMERP for the 2016 Italy
earthquake), all of the source's own splits, one per dedup key and never capped, so precision
and the review share see the crisis' own class mix.

Dev crises (``DataConfig.dev_events``, by default :data:`DEV_CRISES` with ``--loco``) are held out
in exactly the same way and written to ``test/loco-dev/``, minus any post whose text is also in
a fold: unseen crises on which an operating point may be chosen (never on a fold).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from models.errors import TriageError
from models.package import LABELS

LOCO_FOLDS: dict[str, str] = {
    "kerala_floods_2018": "humaid",
    "hurricane_maria_2017": "humaid",
    "hurricane_harvey_2017": "humaid",
    "hurricane_dorian_2019": "humaid",
    "cyclone_idai_2019": "humaid",
    "hurricane_irma_2017": "humaid",
    "ecuador_earthquake_2016": "humaid",
    "california_wildfires_2018": "humaid",
    "puebla_mexico_earthquake_2017": "humaid",
    "hurricane_florence_2018": "humaid",
    "hurricane_matthew_2016": "humaid",
    "italy_earthquake_aug_2016": "smerp2017",
}
"""Default folds (canonical event id → scoring source): the HumAID events with at least 50
requests after dedup, and SMERP's Italy earthquake (whose HumAID rows are held out with it)."""

DEV_CRISES: dict[str, str] = {
    "canada_wildfires_2016": "humaid",
    "greece_wildfires_2018": "humaid",
    "kaikoura_earthquake_2016": "humaid",
    "maryland_floods_2018": "humaid",
    "midwestern_us_floods_2019": "humaid",
    "pakistan_earthquake_2019": "humaid",
    "srilanka_floods_2017": "humaid",
}
"""Default dev crises (canonical event id → scoring source): the HumAID events that are not
folds. Held out like folds, for choosing operating points on crises a model never saw."""
SCORING_SOURCES: dict[str, str] = {**LOCO_FOLDS, **DEV_CRISES}

FOLD_DIR = "loco"  # under <prepared>/test/
DEV_DIR = "loco-dev"  # dev crises, under <prepared>/test/
FOLD_PREFIX = "loco:"  # split_name of a fold's rows while preparing
FOLD_COLUMNS = (
    "text",
    "gold",
    "task",
    "source",
    "event",
    "event_id",
    "label",
    "source_split",
    "raw_text",
    "dup_key",
)


def fold_split_name(event: str) -> str:
    """``split_name`` given to the copies of a held-out crisis' rows while preparing."""
    return f"{FOLD_PREFIX}{event}"


def loco_copies(frame: pl.DataFrame, events: list[str]) -> pl.DataFrame:
    """Copies of every row of the held-out ``events`` (any source, any label), named by fold.

    As test rows (dedup rank 0) they make :func:`distill.dedup.resolve_duplicates` drop every
    other copy of their texts from train, dev and transfer.
    """
    rows = frame.filter(pl.col("event_id").is_in(events))
    return rows.with_columns(
        (pl.lit(FOLD_PREFIX) + pl.col("event_id")).alias("split_name"),
        pl.lit(True).alias("loco_copy"),
    )


def fold_sources(event: str, rows: pl.DataFrame) -> list[str]:
    """The scoring source of a held-out crisis: :data:`SCORING_SOURCES`, else every source with
    4-way rows."""
    if event in SCORING_SOURCES:
        return [SCORING_SOURCES[event]]
    return sorted(set(rows.filter(pl.col("target").is_in(LABELS))["source"].to_list()))


def fold_frames(copies: pl.DataFrame, events: list[str]) -> dict[str, pl.DataFrame]:
    """Fold name (= event id) → its test posts: 4-way rows of the scoring source(s)."""
    out = {}
    for event in events:
        rows = copies.filter(pl.col("split_name") == fold_split_name(event))
        sources = fold_sources(event, rows)
        rows = rows.filter(pl.col("source").is_in(sources) & pl.col("target").is_in(LABELS))
        out[event] = rows.sort("row_id").select(
            *[c for c in FOLD_COLUMNS if c not in ("gold", "task")],
            pl.col("target").alias("gold"),
            pl.lit("4way").alias("task"),
        )
    return out


def without_texts(
    crises: dict[str, pl.DataFrame], others: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """``crises`` minus every post whose dedup key is in one of ``others`` (dev crises vs folds)."""
    if not others:
        return dict(crises)
    keys = pl.concat([rows.select("dup_key") for rows in others.values()])
    return {name: rows.join(keys, on="dup_key", how="anti") for name, rows in crises.items()}


def write_folds(
    folds: dict[str, pl.DataFrame], out_dir: Path, folder_name: str = FOLD_DIR
) -> dict[str, dict]:
    """Write ``<out_dir>/test/<folder_name>/<fold>.parquet``; returns the manifest entry per
    fold."""
    folder = out_dir / "test" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    info = {}
    for name, rows in folds.items():
        rows.select(FOLD_COLUMNS).write_parquet(folder / f"{name}.parquet")
        info[name] = {
            "event": name,
            "sources": sorted(set(rows["source"].to_list())),
            "rows": rows.height,
            "labels": dict(sorted(rows.group_by("gold").len().iter_rows())),
        }
    return info


CrisisSets = tuple[dict[str, pl.DataFrame], dict[str, dict]]


def _crisis_sets(data_dir: str | Path, key: str, folder: str, what: str) -> CrisisSets:
    """Held-out crises of a prepared LOCO layout (``manifest.loco[key]``, ``test/<folder>``)."""
    root = Path(data_dir)
    manifest_file = root / "manifest.json"
    if not manifest_file.is_file():
        raise TriageError(f"no prepared data in {root}: run `triage distill prepare --loco` first")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    info = (manifest.get("loco") or {}).get(key) or {}
    if not info:
        raise TriageError(
            f"{root} has no {what}: prepare it with `triage distill prepare --loco --out {root}`"
        )
    frames = {name: pl.read_parquet(root / "test" / folder / f"{name}.parquet") for name in info}
    return frames, info


def fold_sets(data_dir: str | Path) -> CrisisSets:
    """The folds of a prepared LOCO layout: name → posts, and name → manifest info."""
    return _crisis_sets(data_dir, "folds", FOLD_DIR, "leave-one-crisis-out folds")


def dev_crisis_sets(data_dir: str | Path) -> CrisisSets:
    """The dev crises of a prepared LOCO layout: name → posts, and name → manifest info."""
    return _crisis_sets(data_dir, "dev_crises", DEV_DIR, "dev crises")
