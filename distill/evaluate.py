"""Score models on the test sets: JSON, a markdown table, confusion matrices, cached predictions.

For every (model, test set) the model's 4-way probabilities are computed once and cached under
``<out>/cache/<weights sha256>/<test set>-<texts sha256>.npy``: a rerun with the same weights and
the same texts only re-scores (so changing a task rule in :mod:`distill.metrics` needs no
inference). Outputs in ``<out>``:

- ``eval.json``: per model, per test set: macro-F1, accuracy, per-label P/R/F1, confusion matrix
- ``eval.md``: rows = models, columns = test sets (macro-F1), plus per-label tables
- ``confusion/<model>__<test set>.png``
- ``accuracy_speed.png`` when benchmark results (``benchmarks/models.json``) are given
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from distill import metrics
from distill.predictors import Predictor, display_path, load_predictor
from models.errors import TriageError

CHUNK = 256  # posts per inference call (progress granularity)


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def predict_cached(
    predictor: Predictor,
    set_name: str,
    texts: Sequence[str],
    cache_dir: Path | None,
    progress: bool,
    seen: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Probabilities for ``texts``, read from / written to the cache when ``cache_dir`` is set.

    ``seen`` (text → probabilities of this model) skips posts already scored for another test
    set in the same run: the sets of one source overlap.
    """
    from tqdm import tqdm

    seen = {} if seen is None else seen
    cache_file = None
    if cache_dir is not None:
        digest = texts_digest(texts)[:16]
        cache_file = cache_dir / predictor.identity[:16] / f"{slug(set_name)}-{digest}.npy"
        if cache_file.is_file():
            probs = np.load(cache_file)
            seen.update(zip(texts, probs, strict=True))
            return probs
    todo = list(dict.fromkeys(t for t in texts if t not in seen))
    with tqdm(
        total=len(todo),
        desc=f"{predictor.name} · {set_name}",
        unit="post",
        disable=not progress,
        leave=False,
    ) as bar:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            seen.update(zip(chunk, predictor.predict_proba(chunk), strict=True))
            bar.update(len(chunk))
    probs = np.array([seen[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, probs)
    return probs


def _check_test_sets(test_sets: Mapping[str, Any]) -> None:
    if not test_sets:
        raise TriageError("no test sets to evaluate on")
    for name, frame in test_sets.items():
        missing = {"text", "gold", "task"} - set(frame.columns)
        if missing:
            raise TriageError(f"test set {name!r} lacks columns {sorted(missing)}")
        tasks = set(frame["task"].unique().to_list())
        if len(tasks) != 1 or not tasks <= set(metrics.TASKS):
            raise TriageError(f"test set {name!r} must have one task of {metrics.TASKS}: {tasks}")


def evaluate(
    models: Sequence[str | Path],
    test_sets: Mapping[str, Any],
    out_dir: str | Path,
    *,
    teacher: str | Path | None = None,
    threads: int = 2,
    batch_size: int = 32,
    use_cache: bool = True,
    progress: bool = True,
    speed_json: str | Path | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Score each model (and the teacher, first, if given) on each test set; write the outputs."""
    from tqdm import tqdm

    from distill import plots

    _check_test_sets(test_sets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = out / "cache" if use_cache else None
    paths = ([Path(teacher)] if teacher else []) + [Path(m) for m in models]
    results: dict[str, Any] = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "rules": {
            "binary_threshold": metrics.BINARY_THRESHOLD,
            "positive_labels": metrics.POSITIVE_LABELS,
        },
        "test_sets": {
            name: {"task": frame["task"][0], "n": frame.height} for name, frame in test_sets.items()
        },
        "models": [],
    }
    teacher_probs: dict[str, np.ndarray] = {}
    for index, path in enumerate(tqdm(paths, desc="models", unit="model", disable=not progress)):
        predictor = load_predictor(path, threads=threads, batch_size=batch_size)
        entry: dict[str, Any] = {
            "name": predictor.name,
            "path": display_path(path),
            "kind": predictor.kind,
            "role": "teacher" if teacher and index == 0 else "student",
            "sha256": predictor.identity,
            "model_bytes": predictor.model_bytes,
            "sets": {},
        }
        seen: dict[str, np.ndarray] = {}
        for set_name, frame in test_sets.items():
            task = frame["task"][0]
            texts = frame["text"].to_list()
            probs = predict_cached(predictor, set_name, texts, cache_dir, progress, seen)
            gold = frame["gold"].to_list()
            scores = metrics.score_task(gold, probs, task)
            entry["sets"][set_name] = {"task": task, **scores}
            if "label" in frame.columns:
                entry["sets"][set_name]["by_source_label"] = metrics.accuracy_by_source_label(
                    gold, probs, task, frame["label"].to_list()
                )
            if entry["role"] == "teacher":
                teacher_probs[set_name] = probs
            elif set_name in teacher_probs:
                entry["sets"][set_name]["vs_teacher"] = metrics.paired_bootstrap(
                    gold, probs, teacher_probs[set_name], task
                )
            plots.confusion_png(
                scores["confusion"],
                scores["labels"],
                f"{predictor.name} — {set_name} ({task}), macro-F1 {scores['macro_f1']:.3f}",
                out / "confusion" / f"{slug(predictor.name)}__{slug(set_name)}.png",
            )
        entry["mean_macro_f1"] = float(np.mean([s["macro_f1"] for s in entry["sets"].values()]))
        results["models"].append(entry)
        del predictor
    (out / "eval.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "eval.md").write_text(markdown_report(results), encoding="utf-8")
    if speed_json and Path(speed_json).is_file():
        accuracy_speed_plot(
            results, json.loads(Path(speed_json).read_text()), out / "accuracy_speed.png"
        )
    return results


def macro_f1_table(results: Mapping[str, Any]) -> str:
    """Markdown: rows = models, columns = test sets (task), cells = macro-F1, plus the mean."""
    sets = list(results["test_sets"])
    header = (
        "| model | "
        + " | ".join(
            f"{name} ({results['test_sets'][name]['task']}, n={results['test_sets'][name]['n']})"
            for name in sets
        )
        + " | mean |"
    )
    lines = [header, "|---|" + "---:|" * (len(sets) + 1)]
    for model in results["models"]:
        cells = [f"{model['sets'][name]['macro_f1']:.3f}" for name in sets]
        lines.append(
            f"| {model['name']} | " + " | ".join(cells) + f" | {model['mean_macro_f1']:.3f} |"
        )
    return "\n".join(lines)


def teacher_delta_table(results: Mapping[str, Any]) -> str:
    """Markdown: each student's macro-F1 minus the teacher's, in points, with the 95% paired
    bootstrap interval; empty when no teacher was evaluated."""
    students = [m for m in results["models"] if m["role"] != "teacher"]
    sets = list(results["test_sets"])
    if not any("vs_teacher" in m["sets"][s] for m in students for s in sets):
        return ""
    lines = [
        "Macro-F1 minus the teacher's, in points (95% paired bootstrap interval, 2000 resamples "
        "of the test posts):",
        "",
        "| model | " + " | ".join(sets) + " |",
        "|---|" + "---:|" * len(sets),
    ]
    for model in students:
        cells = []
        for name in sets:
            cmp = model["sets"][name].get("vs_teacher")
            cells.append(
                f"{100 * cmp['delta']:+.1f} [{100 * cmp['ci95_low']:+.1f}, "
                f"{100 * cmp['ci95_high']:+.1f}]"
                if cmp
                else "–"
            )
        lines.append(f"| {model['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_label_tables(results: Mapping[str, Any]) -> str:
    """Markdown: for each test set, per-label F1 (precision/recall) of every model."""
    blocks = []
    for set_name, info in results["test_sets"].items():
        labels = metrics.task_labels(info["task"])
        lines = [
            f"**{set_name}** ({info['task']}): F1 (precision / recall) per label",
            "",
            "| model | " + " | ".join(labels) + " |",
            "|---|" + "---:|" * len(labels),
        ]
        for model in results["models"]:
            per = model["sets"][set_name]["per_label"]
            cells = [
                f"{per[lab]['f1']:.3f} ({per[lab]['precision']:.2f} / {per[lab]['recall']:.2f})"
                for lab in labels
            ]
            lines.append(f"| {model['name']} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def source_label_tables(results: Mapping[str, Any], min_posts: int = 20) -> str:
    """Markdown: for each test set, the share of posts each model gets right per original
    source label (labels with at least ``min_posts`` posts)."""
    blocks = []
    models = results["models"]
    for set_name in results["test_sets"]:
        groups = models[0]["sets"][set_name].get("by_source_label") if models else None
        if not groups:
            continue
        shown = [label for label, g in groups.items() if g["n"] >= min_posts]
        lines = [
            f"**{set_name}**: share right per source label (labels with ≥ {min_posts} posts)",
            "",
            "| source label | gold | n | " + " | ".join(m["name"] for m in models) + " |",
            "|---|---|---:|" + "---:|" * len(models),
        ]
        for label in shown:
            cells = [
                f"{m['sets'][set_name]['by_source_label'][label]['accuracy']:.2f}" for m in models
            ]
            lines.append(
                f"| {label} | {groups[label]['gold']} | {groups[label]['n']} | "
                + " | ".join(cells)
                + " |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def rules_text(results: Mapping[str, Any]) -> str:
    """One sentence: how each task reads the 4-way probabilities (see ``distill.metrics``)."""
    threshold = results["rules"]["binary_threshold"]
    binary = "; ".join(
        f"{task} = P({' + '.join(labels)}) ≥ {threshold}"
        for task, labels in results["rules"]["positive_labels"].items()
    )
    return f"Task rules: 4way = argmax over the four labels; {binary}."


def markdown_report(results: Mapping[str, Any]) -> str:
    return (
        f"# Evaluation ({results['created_at']})\n\nMacro-F1 per test set. {rules_text(results)}"
        f"\n\n{macro_f1_table(results)}\n\n{teacher_delta_table(results)}\n\n"
        f"{per_label_tables(results)}\n\n{source_label_tables(results)}\n"
    )


def accuracy_speed_points(
    results: Mapping[str, Any], speed: Mapping[str, Any]
) -> list[tuple[str, float, float]]:
    """Join eval results and benchmark rows on the weights sha256 (and kind)."""
    by_sha = {(m["sha256"], m["kind"]): m for m in results["models"]}
    points = []
    for row in speed.get("rows", []):
        model = by_sha.get((row.get("sha256"), row.get("kind")))
        if model is None and row.get("kind") == "pipeline":  # same weights as the PyTorch row
            model = by_sha.get((row.get("sha256"), "pytorch"))
        if model is None and row.get("role") == "teacher":  # PyTorch/ONNX fp32: parity-checked
            model = next((m for m in results["models"] if m["role"] == "teacher"), None)
        throughput = row.get("posts_per_s", {}).get(str(speed.get("plot_batch_size", 32)))
        if model is not None and throughput:
            points.append((row["name"], float(throughput), float(model["mean_macro_f1"])))
    return points


def accuracy_speed_plot(
    results: Mapping[str, Any], speed: Mapping[str, Any], out: Path
) -> Path | None:
    from distill import plots

    points = accuracy_speed_points(results, speed)
    if not points:
        return None
    return plots.accuracy_speed_png(points, out, "Mean macro-F1 vs CPU throughput")


def card_eval_section(results: Mapping[str, Any], sha256: str) -> str | None:
    """Model-card markdown for the model with these weights: its scores next to the teacher's."""
    model = next((m for m in results["models"] if m["sha256"] == sha256), None)
    if model is None:
        return None
    teacher = next((m for m in results["models"] if m["role"] == "teacher"), None)
    rows = [model] + ([teacher] if teacher and teacher is not model else [])
    sub = {**results, "models": rows}
    return (
        f"Evaluated {results['created_at']} with `triage distill evaluate`: macro-F1 on held-out "
        f"test sets. {rules_text(results)}\n\n"
        f"{macro_f1_table(sub)}\n\n{teacher_delta_table(sub)}\n\n{per_label_tables(sub)}\n"
    )
