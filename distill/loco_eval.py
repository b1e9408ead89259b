"""Leave-one-crisis-out evaluation: every model on every crisis it never saw.

For each model (the teacher first, if given) and each fold of a prepared LOCO layout
(:func:`distill.folds.fold_sets`): the fold is refused when the model's training data holds that
crisis (:func:`distill.scope.fold_refusal`: a note, or an error when folds were named
explicitly); legacy models lose the fold posts whose text is in the legacy sources; the rest is
predicted (cached as in :mod:`distill.evaluate`), routed with the package's own thresholds and
scored (:mod:`distill.operating_point`). Writes ``loco.json``, ``loco.md`` and one
precision–recall plot per label, ``pr_<label>.png`` (curves pooled over each model's folds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from distill.evaluate import predict_cached
from distill.operating_point import (
    PRECISION_FLOOR,
    SCORED_LABELS,
    macro_mean,
    operating_point_scores,
)
from distill.predictors import Predictor, display_path, load_predictor
from distill.scope import DataScope, fold_refusal, legacy_keys, model_scope
from models.errors import TriageError
from models.package import LABELS


@dataclass
class LocoRun:
    """What every model of one evaluation shares."""

    folds: Mapping[str, pl.DataFrame]
    fold_info: Mapping[str, Mapping[str, Any]]
    out_dir: Path
    explicit: bool = False  # folds named by the user: a refused fold is an error
    threads: int = 2
    batch_size: int = 32
    use_cache: bool = True
    progress: bool = True
    data_root: str | None = None
    log: Callable[[str], None] = print
    pooled: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path | None:
        return self.out_dir / "cache" if self.use_cache else None


def thresholds_of(predictor: Predictor) -> dict[str, float]:
    """The package's review thresholds (none for a bare Hugging Face folder: argmax routing)."""
    package = getattr(predictor, "package", None)
    return dict(package.thresholds) if package is not None else {}


def review_floors_of(predictor: Predictor) -> dict[str, float]:
    """The package's review floors (see ``ModelPackage.review_floors``; none by default)."""
    package = getattr(predictor, "package", None)
    return dict(package.review_floors) if package is not None else {}


def _fold_posts(frame: pl.DataFrame, scope: DataScope, root: str | None) -> pl.DataFrame:
    """The fold's posts a model may be scored on (legacy: none whose text it trained on)."""
    if not scope.legacy:
        return frame
    return frame.filter(~pl.col("dup_key").is_in(list(legacy_keys(root))))


def _allowed_folds(name: str, scope: DataScope, run: LocoRun) -> tuple[list[str], dict]:
    """Folds ``name`` may be scored on, and the reason for each refused one."""
    allowed, refused = [], {}
    for fold, info in run.fold_info.items():
        reason = fold_refusal(name, scope, info["event"], run.data_root)
        if reason is None:
            allowed.append(fold)
        elif run.explicit:
            raise TriageError(reason)
        else:
            refused[fold] = reason
            run.log(f"note: fold {fold} left out: {reason}")
    return allowed, refused


def score_model(path: Path, role: str, run: LocoRun) -> dict[str, Any]:
    """One model on every fold it may be scored on."""
    scope = model_scope(path)
    predictor = load_predictor(path, threads=run.threads, batch_size=run.batch_size)
    allowed, refused = _allowed_folds(predictor.name, scope, run)
    thresholds = thresholds_of(predictor)
    floors = review_floors_of(predictor)
    entry: dict[str, Any] = {
        "name": predictor.name,
        "path": display_path(path),
        "kind": predictor.kind,
        "role": role,
        "sha256": predictor.identity,
        "thresholds": thresholds,
        "review_floors": floors,
        "legacy_sources": scope.legacy,
        "folds": {},
        "refused": refused,
    }
    seen: dict[str, np.ndarray] = {}
    gold_all, probs_all = [], []
    for fold in allowed:
        posts = _fold_posts(run.folds[fold], scope, run.data_root)
        texts = posts["text"].to_list()
        probs = predict_cached(predictor, f"loco-{fold}", texts, run.cache_dir, run.progress, seen)
        gold = posts["gold"].to_list()
        entry["folds"][fold] = {
            **operating_point_scores(gold, probs, thresholds, review_floors=floors),
            "dropped_legacy_text": run.folds[fold].height - posts.height,
        }
        gold_all += gold
        probs_all.append(probs)
    if not allowed:
        raise TriageError(f"{predictor.name}: no fold left to score (every crisis was trained on)")
    pooled_probs = np.concatenate(probs_all)
    entry["macro"] = macro_mean(entry["folds"])
    entry["pooled"] = operating_point_scores(
        gold_all, pooled_probs, thresholds, review_floors=floors
    )
    run.pooled[predictor.name] = (np.asarray(gold_all, dtype=object), pooled_probs)
    return entry


def pr_plots(results: Mapping[str, Any], run: LocoRun) -> dict[str, Path]:
    """``pr_<label>.png`` per scored label: each model's curve pooled over its folds."""
    from sklearn.metrics import precision_recall_curve

    from distill.plots import PrCurve, pr_curves_png

    written = {}
    for label in SCORED_LABELS:
        curves = []
        for model in results["models"]:
            gold, probs = run.pooled[model["name"]]
            truth = gold == label
            if not truth.any():
                continue
            precision, recall, _ = precision_recall_curve(truth, probs[:, LABELS.index(label)])
            at = model["pooled"]["labels"][label]
            point = (at["precision"], at["recall"])
            curves.append(PrCurve(model["name"], precision, recall, point))
        title = (
            f"{label}: precision–recall on held-out crises\n(posts pooled over each model's "
            f"folds; dot: shipped operating point; dashed: precision {PRECISION_FLOOR:.2f})"
        )
        written[label] = pr_curves_png(
            curves, run.out_dir / f"pr_{label}.png", title, PRECISION_FLOOR
        )
    return written


def _clean(value: Any) -> Any:
    """JSON-safe: NaN → None (recursively)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def evaluate_folds(
    models: Sequence[str | Path],
    run: LocoRun,
    *,
    teacher: str | Path | None = None,
    prepared: str = "",
    command: str = "",
) -> dict[str, Any]:
    """Score the teacher (if given) and every model on the folds; write the outputs."""
    from distill.loco_report import loco_markdown

    if not run.folds:
        raise TriageError("no leave-one-crisis-out folds to evaluate on")
    run.out_dir.mkdir(parents=True, exist_ok=True)
    paths = [(Path(teacher), "teacher")] if teacher else []
    paths += [(Path(m), "student") for m in models]
    results: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "prepared": prepared,
        "precision_floor": PRECISION_FLOOR,
        "folds": {name: dict(info) for name, info in run.fold_info.items()},
        "models": [score_model(path, role, run) for path, role in paths],
    }
    plots = pr_plots(results, run)
    results["plots"] = {label: path.name for label, path in plots.items()}
    (run.out_dir / "loco.json").write_text(
        json.dumps(_clean(results), indent=2) + "\n", encoding="utf-8"
    )
    (run.out_dir / "loco.md").write_text(loco_markdown(results), encoding="utf-8")
    return results
