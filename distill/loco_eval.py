"""Leave-one-crisis-out evaluation: every model on every crisis it never saw.

For each model (the teacher first, if given) and each fold of a prepared LOCO layout
(:func:`distill.folds.fold_sets`): the fold is refused when the model's training data holds that
crisis (:func:`distill.scope.fold_refusal`: a note, or an error when folds were named
explicitly); legacy models lose the fold posts whose text is in the legacy sources; the rest is
predicted (cached as in :mod:`distill.evaluate`), routed with the package's own thresholds and
scored (:mod:`distill.operating_point`). Writes ``loco.json``, ``loco.md`` and one
precision–recall plot per label, ``pr_<label>.png`` (curves pooled over each model's folds).

A package that ships review floors is also scored without them (``without_floors``), so the
report shows what its floors cost (review share) and bring (reach).

With ``LocoRun.review_floor_reach`` set, each model's request review floor is also chosen
(:func:`distill.operating_point.request_review_floor`) on the pooled posts of the dev crises
(:func:`distill.folds.dev_crisis_sets`) it may use, never on a fold, and every fold is scored a
second time at the shipped thresholds plus that floor (``chosen_floor`` in a model's entry).
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
    request_review_floor,
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
    dev_crises: Mapping[str, pl.DataFrame] = field(default_factory=dict)
    dev_info: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    review_floor_reach: float | None = None  # choose a request review floor on the dev crises

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


Scored = dict[str, tuple[list[str], np.ndarray, int]]
"""Crisis → (gold labels, probabilities, posts dropped as legacy text)."""


def _fold_posts(frame: pl.DataFrame, scope: DataScope, root: str | None) -> pl.DataFrame:
    """The fold's posts a model may be scored on (legacy: none whose text it trained on)."""
    if not scope.legacy:
        return frame
    return frame.filter(~pl.col("dup_key").is_in(list(legacy_keys(root))))


def allowed_crises(
    name: str, scope: DataScope, info: Mapping[str, Mapping[str, Any]], run: LocoRun, what: str
) -> tuple[list[str], dict]:
    """Crises of ``info`` that ``name`` may be scored on (``what``: "fold" or "dev crisis"),
    and the reason for each refused one (an error for a fold named by the user)."""
    allowed, refused = [], {}
    for crisis, details in info.items():
        reason = fold_refusal(name, scope, details["event"], run.data_root)
        if reason is None:
            allowed.append(crisis)
        elif run.explicit and what == "fold":
            raise TriageError(reason)
        else:
            refused[crisis] = reason
            run.log(f"note: {what} {crisis} left out: {reason}")
    return allowed, refused


def predict_crises(
    predictor: Predictor,
    frames: Mapping[str, pl.DataFrame],
    scope: DataScope,
    run: LocoRun,
    prefix: str,
    seen: dict[str, np.ndarray],
) -> Scored:
    """Probabilities of the posts of each crisis in ``frames`` (cached as ``<prefix><name>``)."""
    out: Scored = {}
    for name, frame in frames.items():
        posts = _fold_posts(frame, scope, run.data_root)
        texts = posts["text"].to_list()
        probs = predict_cached(predictor, prefix + name, texts, run.cache_dir, run.progress, seen)
        out[name] = (posts["gold"].to_list(), probs, frame.height - posts.height)
    return out


def _pool(scored: Scored) -> tuple[list[str], np.ndarray]:
    """Every crisis' posts together: gold labels and probabilities."""
    gold = [label for labels, _, _ in scored.values() for label in labels]
    return gold, np.concatenate([probs for _, probs, _ in scored.values()])


def _scores(
    scored: Scored, thresholds: Mapping[str, float], floors: Mapping[str, float]
) -> dict[str, Any]:
    """``folds`` (per crisis), their ``macro`` mean and the ``pooled`` scores at one operating
    point."""
    folds = {
        fold: {
            **operating_point_scores(gold, probs, thresholds, review_floors=floors),
            "dropped_legacy_text": dropped,
        }
        for fold, (gold, probs, dropped) in scored.items()
    }
    gold_all, probs_all = _pool(scored)
    pooled = operating_point_scores(gold_all, probs_all, thresholds, review_floors=floors)
    return {"folds": folds, "macro": macro_mean(folds), "pooled": pooled}


def with_request_floor(floors: Mapping[str, float], floor: float | None) -> dict[str, float]:
    """``floors`` with the request floor replaced by ``floor`` (removed when None)."""
    out = {label: value for label, value in floors.items() if label != "request"}
    return out if floor is None else {**out, "request": floor}


def choose_floor(
    predictor: Predictor,
    scope: DataScope,
    run: LocoRun,
    thresholds: Mapping[str, float],
    seen: dict[str, np.ndarray],
) -> dict[str, Any]:
    """The request review floor for ``run.review_floor_reach``, chosen on the pooled posts of
    the dev crises the model never saw (never a fold's), and how it does there."""
    if run.review_floor_reach is None or not run.dev_crises:
        raise TriageError("choosing a review floor needs dev crises and a reach target")
    allowed, refused = allowed_crises(predictor.name, scope, run.dev_info, run, "dev crisis")
    if not allowed:
        raise TriageError(
            f"{predictor.name}: no dev crisis left to choose a review floor on "
            "(it was trained on every one)"
        )
    frames = {name: run.dev_crises[name] for name in allowed}
    gold, probs = _pool(predict_crises(predictor, frames, scope, run, "loco-dev-", seen))
    floor, scores = request_review_floor(gold, probs, thresholds, run.review_floor_reach)
    request = scores["labels"]["request"]
    return {
        "reach_target": run.review_floor_reach,
        "floor": floor,
        "dev_crises": allowed,
        "refused": refused,
        "posts": len(gold),
        "requests": request["support"],
        "dev_reach": request["reach"],
        "dev_review_share": scores["review_share"],
    }


def score_model(path: Path, role: str, run: LocoRun) -> dict[str, Any]:
    """One model on every fold it may be scored on (twice with a chosen review floor)."""
    scope = model_scope(path)
    predictor = load_predictor(path, threads=run.threads, batch_size=run.batch_size)
    allowed, refused = allowed_crises(predictor.name, scope, run.fold_info, run, "fold")
    if not allowed:
        raise TriageError(f"{predictor.name}: no fold left to score (every crisis was trained on)")
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
        "refused": refused,
    }
    seen: dict[str, np.ndarray] = {}
    frames = {fold: run.folds[fold] for fold in allowed}
    scored = predict_crises(predictor, frames, scope, run, "loco-", seen)
    entry.update(_scores(scored, thresholds, floors))
    if floors:  # what the package's own review floors cost and bring
        entry["without_floors"] = _scores(scored, thresholds, {})
    gold_all, probs_all = _pool(scored)
    run.pooled[predictor.name] = (np.asarray(gold_all, dtype=object), probs_all)
    if run.review_floor_reach is not None:
        choice = choose_floor(predictor, scope, run, thresholds, seen)
        chosen = with_request_floor(floors, choice["floor"])
        entry["chosen_floor"] = {**choice, "review_floors": chosen}
        entry["chosen_floor"].update(_scores(scored, thresholds, chosen))
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
        "review_floor_reach": run.review_floor_reach,
        "dev_crises": (
            {name: dict(info) for name, info in run.dev_info.items()}
            if run.review_floor_reach is not None
            else {}
        ),
        "models": [score_model(path, role, run) for path, role in paths],
    }
    plots = pr_plots(results, run)
    results["plots"] = {label: path.name for label, path in plots.items()}
    (run.out_dir / "loco.json").write_text(
        json.dumps(_clean(results), indent=2) + "\n", encoding="utf-8"
    )
    (run.out_dir / "loco.md").write_text(loco_markdown(results), encoding="utf-8")
    return results
