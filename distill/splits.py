"""Prepared splits: dedup first, whole crisis events held out, HumAID's own split kept.

Roles (a post lands in exactly one after dedup; duplicates resolve towards the first role):

1. ``test``: HumAID test; every row of the held-out events (``DataConfig.held_out_events``) of
   CrisisLexT26, CrisisNLP-CF, CrisisNLP-volunteers and CrisisLexT6; all of Kaggle.
2. ``dev``: HumAID dev plus a seeded, stratified ``dev_fraction`` of the other labelled rows.
3. ``train``: the remaining labelled rows (targets request / offer / emotional_support / other /
   actionable).
4. ``transfer``: unlabelled in-domain posts of non-held-out events (CrisisLexT6, CrisisLexT26
   "Not labeled", volunteer "Informative"-style labels), for distillation only.

Non-English events (name suffix ``_cl``/``_esp``/``_fr`` and ``DataConfig.excluded_events``) are
dropped: both base models are English.
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
from models.errors import TriageError
from models.package import LABELS, sha256_of

DATA_DIR = RUNS_DIR / "data"
ROLE_RANK = {"test": 0, "dev": 1, "train": 2, "transfer": 3}
ACTIONABLE_TARGETS = ("request", "offer", "actionable")
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


def _assign_roles(frame: pl.DataFrame, cfg: DataConfig) -> pl.DataFrame:
    held = pl.col("event_id").is_in(cfg.held_out_events)
    source = pl.col("source")
    labelled = pl.col("target") != "unlabelled"
    split_name = (
        pl.when(source == "kaggle")
        .then(pl.lit("kaggle_informative"))
        .when((source == "humaid_maria") & (pl.col("split") == "test"))
        .then(pl.lit("humaid_test"))
        .when((source == "humaid_maria") & (pl.col("split") == "dev"))
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
    frame = frame.with_columns(split_name.alias("split_name")).filter(
        pl.col("split_name").is_not_null()
    )
    role = (
        pl.when(pl.col("split_name").is_in(["dev", "train", "transfer"]))
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


def prepare(
    root: str | Path | None = None, out_dir: Path = DATA_DIR, cfg: DataConfig | None = None
) -> dict:
    """Build every split from the shared data, write parquet files + manifest.json."""
    cfg = cfg or DataConfig()
    started = time.time()
    frame = load_all(root)
    frame = frame.filter(~pl.col("event_id").is_in(cfg.excluded_events))
    if cfg.english_only:
        frame = frame.filter(pl.col("language") == "en")
    frame = add_keys(frame)
    stats_before = duplicate_stats(frame)
    frame = _assign_roles(frame, cfg)
    frame = resolve_duplicates(frame, "role_rank", "split_name")

    labelled = frame.filter(pl.col("role") == "train")
    dev_extra = labelled.filter(
        pl.int_range(pl.len()).shuffle(seed=cfg.seed).over("source", "target")
        < (pl.len().over("source", "target") * cfg.dev_fraction).ceil()
    )
    train = labelled.join(dev_extra.select("row_id"), on="row_id", how="anti")
    dev = pl.concat([frame.filter(pl.col("role") == "dev"), dev_extra])
    transfer = frame.filter(pl.col("role") == "transfer")
    if transfer.height > cfg.transfer_cap:
        transfer = transfer.sample(n=cfg.transfer_cap, seed=cfg.seed)
    columns = ["row_id", "text", "target", "source", "event", "event_id", "label", "dup_key"]
    splits = {
        "train": train.sort("row_id").select(columns),
        "dev": dev.sort("row_id").select(columns),
        "transfer": transfer.sort("row_id").select(columns),
    }
    tests = _test_frames(frame.filter(pl.col("role") == "test"), cfg)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "test").mkdir(exist_ok=True)
    for name, part in splits.items():
        part.write_parquet(out_dir / f"{name}.parquet")
    for name, part in tests.items():
        part.write_parquet(out_dir / "test" / f"{name}.parquet")
    manifest = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "config": asdict(cfg),
        "mapping_sha256": sha256_of(MAPPING_FILE),
        "duplicates_before_split": stats_before,
        "splits": {n: _label_counts(p, "target") for n, p in splits.items()},
        "tests": {n: {"task": TASKS[n], **_label_counts(p, "gold")} for n, p in tests.items()},
        "held_out_events_present": sorted(
            set(frame.filter(pl.col("role") == "test")["event_id"].to_list()) - {"kaggle"}
        ),
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
