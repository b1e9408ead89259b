"""Markdown for leave-one-crisis-out results: a summary table (macro over folds, teacher and
every student side by side; a second row per model at a review floor chosen on dev crises, when
one was chosen), one per-fold table per model and operating point, and the RESULTS.md section."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distill.operating_point import SCORED_LABELS

SECTION = "## Leave-one-crisis-out: requests in crises no model saw"
PLURAL = {"request": "requests", "offer": "offers"}


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _label_cells(scores: Mapping[str, Any]) -> list[str]:
    """P / R / F1 at the operating point, AP, recall at the precision floor, reach."""
    return [
        f"{_num(scores['precision'])} / {_num(scores['recall'])} / {_num(scores['f1'])}",
        _num(scores["average_precision"]),
        _num(scores["recall_at_precision"]),
        _num(scores["reach"]),
    ]


def _label_headers(floor: float) -> list[str]:
    headers = []
    for label in SCORED_LABELS:
        headers += [
            f"{label} P / R / F1",
            f"{label} AP",
            f"{label} R@P≥{floor:.2f}",
            f"{PLURAL[label]} → {PLURAL[label]} or review",
        ]
    return headers


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    rule = "|" + "---|" * left + "---:|" * (len(headers) - left)
    lines = ["| " + " | ".join(headers) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _operating_point(model: Mapping[str, Any]) -> str:
    thresholds = model.get("thresholds") or {}
    floors = model.get("review_floors") or {}
    if not thresholds and not floors:
        return "argmax (no thresholds)"
    text = "request ≥ " + _num(thresholds.get("request", 0.0))
    if "request" in floors:
        text += f"; review if P(request) ≥ {floors['request']:.4f}"
    return text


def _floor_operating_point(model: Mapping[str, Any], choice: Mapping[str, Any]) -> str:
    """Operating-point cell of the chosen-floor row: the floor and where it was chosen."""
    threshold = _num((model.get("thresholds") or {}).get("request", 0.0))
    where = (
        f"{choice['posts']:,} dev-crisis posts ({choice['requests']} requests; there reach "
        f"{_num(choice['dev_reach'])}, review {_num(choice['dev_review_share'])})"
    )
    if choice["floor"] is None:
        target = choice["reach_target"]
        return f"request ≥ {threshold}; no floor needed (reach ≥ {target:.2f}) on {where}"
    return (
        f"request ≥ {threshold}; floor {choice['floor']:.4f} (review if P(request) ≥ it) "
        f"chosen on {where}"
    )


def _summary_row(name: str, point: str, macro: Mapping[str, Any]) -> list[str]:
    cells = [name, point, str(macro["folds"])]
    for label in SCORED_LABELS:
        cells += _label_cells(macro["labels"][label])
    return [*cells, _num(macro["review_share"])]


def summary_table(results: Mapping[str, Any]) -> str:
    """Rows = models (shipped operating point, without the package's own review floor if it has
    one, then the chosen floor if any); macro means over the folds each model was scored on."""
    floor = results["precision_floor"]
    headers = ["model", "operating point", "folds", *_label_headers(floor), "review share"]
    rows = []
    for model in results["models"]:
        choice = model.get("chosen_floor")
        shipped = ("shipped: " if choice else "") + _operating_point(model)
        rows.append(_summary_row(model["name"], shipped, model["macro"]))
        if model.get("without_floors"):
            point = _operating_point({**model, "review_floors": {}}) + "; without its review floor"
            rows.append(_summary_row(model["name"], point, model["without_floors"]["macro"]))
        if choice:
            point = _floor_operating_point(model, choice)
            rows.append(_summary_row(model["name"], point, choice["macro"]))
    return _table(headers, rows, left=2)


def fold_table(
    results: Mapping[str, Any],
    model: Mapping[str, Any],
    folds: Mapping[str, Any] | None = None,
) -> str:
    """Rows = the folds one model was scored on (``folds``: scores at another operating point
    than the shipped one)."""
    floor = results["precision_floor"]
    headers = ["crisis (source)", "posts", "requests", "offers", *_label_headers(floor)]
    rows = []
    for fold, scores in (model["folds"] if folds is None else folds).items():
        info = results["folds"][fold]
        labels = scores["labels"]
        cells = [
            f"{fold} ({', '.join(info['sources'])})",
            str(scores["n"]),
            str(labels["request"]["support"]),
            str(labels["offer"]["support"]),
        ]
        for label in SCORED_LABELS:
            cells += _label_cells(labels[label])
        rows.append([*cells, _num(scores["review_share"])])
    return _table([*headers, "review share"], rows)


def dev_crisis_lines(results: Mapping[str, Any]) -> str:
    """One bullet per dev crisis: posts and requests (before a model's legacy-text drop)."""
    return "\n".join(
        f"- {name} ({', '.join(info['sources'])}): {info['rows']:,} posts, "
        f"{info['labels'].get('request', 0)} requests"
        for name, info in results.get("dev_crises", {}).items()
    )


def refused_lines(results: Mapping[str, Any]) -> str:
    """One bullet per (model, fold) left out, with the reason."""
    lines = [
        f"- {fold}: {reason}"
        for model in results["models"]
        for fold, reason in model.get("refused", {}).items()
    ]
    lines += [
        f"- dev crisis {crisis} (floor not chosen on it): {reason}"
        for model in results["models"]
        for crisis, reason in (model.get("chosen_floor") or {}).get("refused", {}).items()
    ]
    dropped = [
        f"- {model['name']}: {scores['dropped_legacy_text']} of the {fold} posts not scored "
        "(the same text is in the legacy sources it was trained on)"
        for model in results["models"]
        for fold, scores in model["folds"].items()
        if scores.get("dropped_legacy_text")
    ]
    return "\n".join(lines + dropped)


def explanation(results: Mapping[str, Any]) -> str:
    floor = results["precision_floor"]
    return (
        "Each fold is one crisis whose posts were in no training or distillation set of the "
        "model scored (`triage distill prepare --loco` holds the fold crises out of train, dev "
        "and transfer in every source, text copies included; `evaluate --folds events` refuses a "
        "fold whose crisis is in a model's recorded training data). Posts are routed as the job "
        "routes them (argmax label → its topic, below the label's threshold → review). P / R / "
        "F1: the label's topic at the shipped operating point; AP: average precision of "
        f"P(label); R@P≥{floor:.2f}: the best recall of a cut on P(label) with precision ≥ "
        f"{floor:.2f}; → … or review: share of true posts that reach the topic or the review "
        "queue; review share: the review queue's share of all posts. Means are unweighted over "
        "folds."
    )


def floor_explanation(results: Mapping[str, Any]) -> str:
    """How the second row per model was chosen (empty without a chosen floor)."""
    reach = results.get("review_floor_reach")
    if reach is None:
        return ""
    return (
        "Second row per model: the shipped thresholds plus a request review floor (a post whose "
        "P(request) reaches it goes to review instead of another topic): the highest floor with "
        f"which ≥ {reach:.2f} of the true requests reach requests or review on the pooled posts "
        "of the dev crises, crises the model never saw that are not folds (held out by `triage "
        "distill prepare --loco` like the folds; posts whose text is also in a fold removed). "
        "No fold post is used to choose it. Dev crises:"
    )


def loco_markdown(results: Mapping[str, Any]) -> str:
    """The whole report (``loco.md``)."""
    blocks = [
        f"# Leave-one-crisis-out evaluation ({results['created_at']})",
        explanation(results),
        "Macro mean over folds:",
        summary_table(results),
    ]
    if any(model.get("without_floors") for model in results["models"]):
        blocks.append(
            "A package that ships a request review floor (a post whose P(request) reaches it goes "
            "to review instead of another topic; chosen on dev crises, never on a fold: see the "
            "package's model card) is scored twice: as shipped, and without the floor."
        )
    if floor_explanation(results):
        blocks += [floor_explanation(results), dev_crisis_lines(results)]
    for model in results["models"]:
        blocks += [f"**{model['name']}** per crisis:", fold_table(results, model)]
        choice = model.get("chosen_floor")
        if choice:
            point = "no floor" if choice["floor"] is None else f"review floor {choice['floor']:.4f}"
            title = f"**{model['name']}** per crisis, {point} chosen on dev crises:"
            blocks += [title, fold_table(results, model, choice["folds"])]
    notes = refused_lines(results)
    if notes:
        blocks += ["Left out:", notes]
    if results.get("command"):
        blocks.append(f"Command:\n\n```\n{results['command']}\n```")
    return "\n\n".join(blocks) + "\n"


def loco_section(results: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    """Body of the RESULTS.md section: the report without its title, plus the plots."""
    body = loco_markdown(results).split("\n\n", 1)[1]
    images = "\n".join(f"![{label} precision–recall]({path})" for label, path in plots.items())
    prepared = results.get("prepared")
    where = f" (folds from `{prepared}`)" if prepared else ""
    return f"{body.strip()}\n\nPrecision–recall per label{where}:\n\n{images}\n"


def publish_loco(
    results: Mapping[str, Any], out_dir: Path, results_md: Path, plot_prefix: str = "loco_pr_"
) -> dict[str, str]:
    """Copy the plots next to ``results_md`` and rewrite (or append) its LOCO section only."""
    import shutil

    from distill.eval_report import replace_markdown_section

    refs = {}
    for label, name in results.get("plots", {}).items():
        target = results_md.parent / f"{plot_prefix}{label}.png"
        shutil.copy(out_dir / name, target)
        refs[label] = target.name
    replace_markdown_section(results_md, SECTION, loco_section(results, refs))
    return {"results_md": str(results_md), **{f"plot_{k}": v for k, v in refs.items()}}
