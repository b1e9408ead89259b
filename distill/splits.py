"""Prepared splits: dedup first, whole crisis events held out, the sources' own splits kept.

Roles (a post lands in exactly one after dedup; duplicates resolve towards the first role):

1. ``test``: HumAID's Hurricane Maria test split (``humaid_test``, the same rows as before
   ``humaid`` superseded ``humaid_maria``); every row of the held-out events
   (``DataConfig.held_out_events``) of CrisisLexT26, CrisisNLP-CF, CrisisNLP-volunteers and
   CrisisLexT6; all of Kaggle.
2. ``dev``: the dev/validation splits of the sources that have one (:data:`OWN_SPLIT_SOURCES`:
   HumAID's 19 events, SMERP, CrisisMMD) plus a seeded, stratified ``dev_fraction`` of the other
   sources' labelled rows.
3. ``train``: the remaining labelled rows (targets request / offer / emotional_support / other /
   actionable). The own train *and test* splits of HumAID's other events, SMERP and CrisisMMD
   train: the held-out evaluation for them is leave-one-crisis-out (below). Each row keeps its
   ``source_split``, so a run can still tell them apart.
4. ``transfer``: unlabelled in-domain posts of non-held-out events (CrisisLexT6, CrisisLexT26
   "Not labeled", volunteer "Informative"-style labels, CrisisMMD affected_individuals), for
   distillation only.

Leave-one-crisis-out (``DataConfig.loco_events``, ``triage distill prepare --loco``): every row
of those crises, in every source, is removed from dev, train and transfer, and so is every copy
of their texts (same dedup key) in other events; each crisis becomes a fold in ``test/loco/``
(:mod:`distill.folds`). Dev crises (``DataConfig.dev_events``) are held out the same way and
written to ``test/loco-dev/`` (without texts that are also in a fold). The manifest lists the
events in train/dev/transfer (``training_events``) and the held-out ones (``loco.events``,
``loco.dev_events``), which model packages record and ``evaluate --folds events`` checks.

Non-English events (name suffix ``_cl``/``_esp``/``_fr`` and ``DataConfig.excluded_events``) are
dropped: both base models are English. Every row keeps its source's own ``label``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import polars as pl

from distill.config import RUNS_DIR, DataConfig
from distill.data import MAPPING_FILE, load_all
from distill.dedup import add_keys, duplicate_stats, resolve_duplicates
from distill.folds import DEV_DIR, fold_frames, loco_copies, without_texts, write_folds
from models.errors import TriageError
from models.package import LABELS, sha256_of

DATA_DIR = RUNS_DIR / "data"
LOCO_DATA_DIR = RUNS_DIR / "data-loco"  # `prepare --loco`: the fold crises held out
ROLE_RANK = {"test": 0, "dev": 1, "train": 2, "transfer": 3}
TRAINING_ROLES = ("train", "dev", "transfer")
ACTIONABLE_TARGETS = ("request", "offer", "actionable")
OWN_SPLIT_SOURCES = ("humaid", "humaid_maria", "smerp2017", "crisismmd")
"""Sources whose own dev split is the dev split (no extra dev rows drawn from them)."""
DEV_SPLITS = ("dev", "validation")
HUMAID_SOURCES = ("humaid", "humaid_maria")
HUMAID_TEST_EVENT = "hurricane_maria_2017"  # humaid_test = this event's official test split
COLUMNS = [
    "row_id",
    "text",
    "target",
    "source",
    "event",
    "event_id",
    "label",
    "source_split",
    "dup_key",
]
HELD_OUT_TEST = {
    "crisislext26": "crisislext26_heldout",
    "crisisnlp_cf": "crisisnlp_cf_heldout",
    "crisisnlp_volunteers": "volunteers_heldout",
    "crisislext6": "crisislext6_informative",
}
TASKS = {
    "humaid_test": "4way",
    "volunteers_heldout_4way": "4way",
    "volunteers_heldout_actionable": "actionable",
    "crisislext26_heldout": "actionable",
    "crisisnlp_cf_heldout": "actionable",
    "crisislext6_informative": "informative",
    "kaggle_informative": "informative",
}
"""Test set name → task. Gold values per task:

- ``4way``: one of ``request``, ``offer``, ``emotional_support``, ``other``
  (``models.package.LABELS``).
- ``actionable``: ``actionable`` (source label is a request, an offer or the source's merged
  request-or-offer class) or ``not_actionable`` (emotional_support or other).
- ``informative``: ``informative`` (on-topic / real disaster) or ``not_informative``.
"""


def _split_name(cfg: DataConfig) -> pl.Expr:
    """Which split (test set name, ``dev``, ``train``, ``transfer``) a row belongs to."""
    held = pl.col("event_id").is_in(cfg.held_out_events)
    source = pl.col("source")
    labelled = pl.col("target") != "unlabelled"
    own_split = source.is_in(OWN_SPLIT_SOURCES)
    return (
        pl.when(source == "kaggle")
        .then(pl.lit("kaggle_informative"))
        .when(
            source.is_in(HUMAID_SOURCES)
            & (pl.col("event_id") == HUMAID_TEST_EVENT)
            & (pl.col("source_split") == "test")
        )
        .then(pl.lit("humaid_test"))
        .when(own_split & labelled & pl.col("source_split").is_in(DEV_SPLITS))
        .then(pl.lit("dev"))
        .when(held & (source == "crisislext6"))
        .then(pl.lit(HELD_OUT_TEST["crisislext6"]))
        .when(held & labelled)
        .then(source.replace_strict(HELD_OUT_TEST, default=None))
        .when(held)
        .then(pl.lit(None))
        .when(labelled)
        .then(pl.lit("train"))
        .otherwise(pl.lit("transfer"))
    )


def _assign_roles(frame: pl.DataFrame, cfg: DataConfig) -> pl.DataFrame:
    """``split_name``, ``role``, ``role_rank`` and ``loco_copy`` per row; held-out crises'
    rows leave the training roles and come back as copies named by fold."""
    frame = frame.with_columns(
        _split_name(cfg).alias("split_name"), pl.lit(False).alias("loco_copy")
    )
    held_out = [*cfg.loco_events, *cfg.dev_events]
    in_loco = pl.col("event_id").is_in(held_out)
    frame = frame.with_columns(
        pl.when(in_loco & pl.col("split_name").is_in(TRAINING_ROLES))
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(pl.col("split_name"))
        .alias("split_name")
    )
    frame = pl.concat([frame, loco_copies(frame, held_out)])
    frame = frame.filter(pl.col("split_name").is_not_null())
    role = (
        pl.when(pl.col("split_name").is_in(TRAINING_ROLES))
        .then(pl.col("split_name"))
        .otherwise(pl.lit("test"))
    )
    return frame.with_columns(role.alias("role")).with_columns(
        pl.col("role").replace_strict(ROLE_RANK, return_dtype=pl.Int8).alias("role_rank")
    )


def capped_sample(frame: pl.DataFrame, by: str, cap: int, seed: int) -> pl.DataFrame:
    """At most ``cap`` rows, shared between ``by`` classes by water-filling (small classes
    are kept whole, the rest split evenly), seeded. Keeps rare classes measurable."""
    if frame.height <= cap:
        return frame
    counts = dict(frame.group_by(by).len().iter_rows())
    quota: dict[str, int] = {}
    remaining, left = dict(counts), cap
    while remaining:
        share = left // len(remaining)
        small = {k: n for k, n in remaining.items() if n <= share}
        if not small:
            for k in sorted(remaining):
                quota[k] = share
            break
        for k, n in small.items():
            quota[k] = n
            left -= n
            del remaining[k]
    parts = [
        frame.filter(pl.col(by) == k).sample(n=n, seed=seed, shuffle=True)
        for k, n in sorted(quota.items())
    ]
    return pl.concat(parts)


def _gold(task: str) -> pl.Expr:
    if task == "4way":
        return pl.col("target")
    if task == "actionable":
        return (
            pl.when(pl.col("target").is_in(ACTIONABLE_TARGETS))
            .then(pl.lit("actionable"))
            .otherwise(pl.lit("not_actionable"))
        )
    return pl.col("informative")


def _test_frames(tests: pl.DataFrame, cfg: DataConfig) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    for name, task in TASKS.items():
        base = name.removesuffix("_4way").removesuffix("_actionable")
        rows = tests.filter(pl.col("split_name") == base)
        if task == "4way":
            rows = rows.filter(pl.col("target").is_in(LABELS))
        elif task == "actionable":
            rows = rows.filter(pl.col("target") != "unlabelled")
        else:
            rows = rows.filter(pl.col("informative") != "")
        rows = rows.with_columns(_gold(task).alias("gold"), pl.lit(task).alias("task"))
        rows = capped_sample(rows, "gold", cfg.test_cap, cfg.seed).sort("row_id")
        out[name] = rows.select("text", "gold", "task", "source", "event", "label", "raw_text")
    return out


def _dev_and_train(frame: pl.DataFrame, cfg: DataConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dev = the own dev splits + a stratified ``dev_fraction`` of the other sources' train
    rows; train = the rest."""
    labelled = frame.filter(pl.col("role") == "train")
    pool = labelled.filter(~pl.col("source").is_in(OWN_SPLIT_SOURCES))
    dev_extra = pool.filter(
        pl.int_range(pl.len()).shuffle(seed=cfg.seed).over("source", "target")
        < (pl.len().over("source", "target") * cfg.dev_fraction).ceil()
    )
    train = labelled.join(dev_extra.select("row_id"), on="row_id", how="anti")
    return pl.concat([frame.filter(pl.col("role") == "dev"), dev_extra]), train


def _build_splits(frame: pl.DataFrame, cfg: DataConfig) -> dict[str, pl.DataFrame]:
    """``train``, ``dev`` and ``transfer`` (capped) from the deduplicated rows."""
    dev, train = _dev_and_train(frame, cfg)
    transfer = frame.filter(pl.col("role") == "transfer")
    if transfer.height > cfg.transfer_cap:
        transfer = transfer.sample(n=cfg.transfer_cap, seed=cfg.seed)
    parts = {"train": train, "dev": dev, "transfer": transfer}
    return {name: part.sort("row_id").select(COLUMNS) for name, part in parts.items()}


def _source_counts(
    loaded: pl.DataFrame,
    used: pl.DataFrame,
    kept: pl.DataFrame,
    splits: dict[str, pl.DataFrame],
    dev_events: list[str],
) -> dict[str, dict[str, int]]:
    """Per source: rows loaded, dropped by config (language, excluded events), held out unused
    (unlabelled rows of held-out events, training rows of LOCO crises), removed as duplicates,
    and how many rows each split, the fold pool and the dev-crisis pool kept."""

    def count(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.group_by("source").len().iter_rows())

    originals = used.filter(~pl.col("loco_copy"))
    before, after = count(originals), count(kept.filter(~pl.col("loco_copy")))
    loaded_rows = count(loaded)
    tests = count(kept.filter((pl.col("role") == "test") & ~pl.col("loco_copy")))
    in_dev = pl.col("event_id").is_in(dev_events)
    loco = count(kept.filter(pl.col("loco_copy") & ~in_dev))
    loco_dev = count(kept.filter(pl.col("loco_copy") & in_dev))
    per_split = {name: count(part) for name, part in splits.items()}
    out = {}
    for source, rows in loaded_rows.items():
        out[source] = {
            "loaded": rows,
            "unused_or_dropped": rows - before.get(source, 0),
            "duplicates_removed": before.get(source, 0) - after.get(source, 0),
            **{name: counts.get(source, 0) for name, counts in per_split.items()},
            "test_pool": tests.get(source, 0),
            "loco_folds": loco.get(source, 0),
            "loco_dev": loco_dev.get(source, 0),
        }
    return out


def _check_loco_events(frame: pl.DataFrame, cfg: DataConfig) -> None:
    """Held-out events (folds and dev crises) exist and are not both."""
    unknown = sorted(set(cfg.loco_events + cfg.dev_events) - set(frame["event_id"].to_list()))
    if unknown:
        raise TriageError(
            f"loco event {unknown[0]!r} is in none of the prepared sources "
            "(use canonical event ids, e.g. hurricane_maria_2017)"
        )
    both = sorted(set(cfg.loco_events) & set(cfg.dev_events))
    if both:
        raise TriageError(f"{both[0]} is both a fold and a dev crisis: name it in one list only")


def prepare(
    root: str | Path | None = None, out_dir: Path = DATA_DIR, cfg: DataConfig | None = None
) -> dict:
    """Build every split (and the LOCO folds, if any) from the shared data: parquet files +
    manifest.json."""
    cfg = cfg or DataConfig()
    started = time.time()
    loaded = load_all(root, tuple(cfg.sources)).rename({"split": "source_split"})
    frame = loaded.filter(~pl.col("event_id").is_in(cfg.excluded_events))
    if cfg.english_only:
        frame = frame.filter(pl.col("language") == "en")
    _check_loco_events(frame, cfg)
    frame = add_keys(frame)
    stats_before = duplicate_stats(frame)
    used = _assign_roles(frame, cfg)
    frame = resolve_duplicates(used, "role_rank", "split_name")
    originals = frame.filter(~pl.col("loco_copy"))
    splits = _build_splits(originals, cfg)
    tests = _test_frames(originals.filter(pl.col("role") == "test"), cfg)
    copies = frame.filter(pl.col("loco_copy"))
    folds = fold_frames(copies, cfg.loco_events)
    dev_crises = without_texts(fold_frames(copies, cfg.dev_events), folds)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "test").mkdir(exist_ok=True)
    for name, part in splits.items():
        part.write_parquet(out_dir / f"{name}.parquet")
    for name, part in tests.items():
        part.write_parquet(out_dir / "test" / f"{name}.parquet")
    fold_info = write_folds(folds, out_dir)
    dev_info = write_folds(dev_crises, out_dir, DEV_DIR)
    training_events = set().union(*(set(p["event_id"].to_list()) for p in splits.values()))
    manifest = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "config": asdict(cfg),
        "mapping_sha256": sha256_of(MAPPING_FILE),
        "sources": list(cfg.sources),
        "duplicates_before_split": stats_before,
        "rows_by_source": _source_counts(loaded, used, frame, splits, cfg.dev_events),
        "splits": {n: _label_counts(p, "target") for n, p in splits.items()},
        "tests": {n: {"task": TASKS[n], **_label_counts(p, "gold")} for n, p in tests.items()},
        "held_out_events_present": sorted(
            set(originals.filter(pl.col("role") == "test")["event_id"].to_list()) - {"kaggle"}
        ),
        "training_events": sorted(training_events),
        "loco": {
            "events": list(cfg.loco_events),
            "folds": fold_info,
            "dev_events": list(cfg.dev_events),
            "dev_crises": dev_info,
        },
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return manifest


def _label_counts(frame: pl.DataFrame, column: str) -> dict:
    counts = dict(sorted(frame.group_by(column).len().iter_rows()))
    return {"rows": frame.height, "labels": counts}


def _require(data_dir: Path) -> Path:
    if not (data_dir / "manifest.json").is_file():
        raise TriageError(f"no prepared data in {data_dir}: run `triage distill prepare` first")
    return data_dir


def load_prepared(data_dir: str | Path = DATA_DIR) -> dict[str, pl.DataFrame]:
    """``train``, ``dev``, ``transfer`` and every test set (see :func:`test_sets`) by name."""
    root = _require(Path(data_dir))
    out = {name: pl.read_parquet(root / f"{name}.parquet") for name in ("train", "dev", "transfer")}
    out.update(test_sets(root))
    return out


def test_sets(data_dir: str | Path = DATA_DIR) -> dict[str, pl.DataFrame]:
    """Test set name → DataFrame with ``text`` (normalised), ``gold``, ``task`` (+ provenance
    columns ``source, event, label, raw_text``). Tasks and gold values: see :data:`TASKS`.

    Each set is capped at ``DataConfig.test_cap`` rows, classes water-filled (rare classes kept
    whole), seeded; no post of a test set appears in train, dev or transfer (dedup first).
    """
    root = _require(Path(data_dir)) / "test"
    return {name: pl.read_parquet(root / f"{name}.parquet") for name in TASKS}


test_sets.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
