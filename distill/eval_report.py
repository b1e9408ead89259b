"""Publish evaluation + benchmark results: the RESULTS.md section, the plot, the model cards."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distill.card_sections import fill_package_card
from distill.evaluate import (
    accuracy_speed_plot,
    card_eval_section,
    macro_f1_table,
    rules_text,
    teacher_delta_table,
)
from models.package import METADATA_FILE

SECTION = "## Models: accuracy and speed"


def _size(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def speed_table(speed: Mapping[str, Any], rows: list[Mapping[str, Any]] | None = None) -> str:
    """Markdown: one row per model with posts/s per batch size and the ratios at the plot batch."""
    sizes = [str(b) for b in speed["batch_sizes"]]
    ref = str(speed["plot_batch_size"])
    lines = [
        "| model | runs as | weights | "
        + " | ".join(f"posts/s b={b}" for b in sizes)
        + f" | × teacher PyTorch (b={ref}) | × pipeline (b={ref}) | peak RSS |",
        "|---|---|---:|" + "---:|" * (len(sizes) + 3),
    ]
    for row in rows if rows is not None else speed["rows"]:
        speeds = " | ".join(f"{row['posts_per_s'].get(b, 0):.1f}" for b in sizes)
        x_teacher = row.get("x_teacher", {}).get(ref)
        x_pipe = row.get("x_pipeline", {}).get(ref)
        lines.append(
            f"| {row['name']} | {row['kind']} ({row['role']}) | {_size(row['model_bytes'])} | "
            f"{speeds} | {f'{x_teacher:.1f}×' if x_teacher else '–'} | "
            f"{f'{x_pipe:.1f}×' if x_pipe else '–'} | {row['peak_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def speed_setup(speed: Mapping[str, Any]) -> str:
    machine = speed["machine"]
    rounds = speed.get("rounds", 1)
    in_rounds = (
        f"; {rounds} rounds, models in turn: posts/s = median over rounds, ratios = median of "
        "the per-round ratios"
        if rounds > 1
        else ""
    )
    return (
        f"{speed['posts']} real tweets (HumAID Maria test split, normalised, "
        f"mean {speed['mean_chars']} chars"
        + (f", {speed['mean_tokens']} MiniLM tokens" if speed.get("mean_tokens") else "")
        + f"), {speed['threads']} threads, median of {speed['repeats']} passes after warm-up, each "
        f"model in its own process{in_rounds}; {machine['cpu']} ({machine['cores']} cores), "
        f"{speed['created_at']}."
    )


def targets_line(speed: Mapping[str, Any]) -> str:
    """How the default package compares with the project's speed targets (≥ 25× teacher PyTorch
    fp32, ≥ 3× the plain transformers pipeline), at every measured batch size."""
    from models.errors import TriageError
    from models.package import default_model_path

    try:
        default = default_model_path().name
    except TriageError:
        return ""
    row = next(
        (r for r in speed["rows"] if r["kind"] == "onnx" and Path(r["path"]).name == default), None
    )
    if row is None or not row.get("x_teacher"):
        return ""
    per_batch = ", ".join(
        f"b={b}: {row['x_teacher'][b]:.1f}× teacher"
        + (f" / {row['x_pipeline'][b]:.1f}× pipeline" if b in row.get("x_pipeline", {}) else "")
        for b in row["x_teacher"]
    )
    return (
        f"Default model ({row['name']}) against the targets (≥ 25× teacher PyTorch fp32, "
        f"≥ 3× plain transformers pipeline): {per_batch}."
    )


def results_section(
    speed: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None, plot: str | None
) -> str:
    """Body of the RESULTS.md section (without its heading)."""
    parts = []
    if evaluation:
        parts += [
            "Accuracy: macro-F1 per held-out test set (`triage distill evaluate`). "
            + rules_text(evaluation),
            macro_f1_table(evaluation),
            teacher_delta_table(evaluation),
            f"Command:\n\n```\n{evaluation['command']}\n```" if evaluation.get("command") else "",
        ]
    if speed:
        parts += [
            "Speed (texts → probabilities, tokenization included): " + speed_setup(speed),
            speed_table(speed),
            targets_line(speed),
            f"Command:\n\n```\n{speed['command']}\n```" if speed.get("command") else "",
        ]
    if plot:
        parts.append(f"![accuracy vs speed]({plot})")
    return "\n\n".join(p for p in parts if p)


def replace_markdown_section(path: str | Path, heading: str, body: str) -> Path:
    """Replace (or append) the ``heading`` section of a markdown file, up to the next ``## ``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmark results\n"
    block = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        new = pattern.sub(lambda _: block + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        new = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
    return path


def card_speed_section(speed: Mapping[str, Any], sha256: str) -> str | None:
    """Model-card markdown: this package's speed next to the teacher and the plain pipeline."""
    own = [r for r in speed["rows"] if r["sha256"] == sha256 and r["kind"] == "onnx"]
    if not own:
        return None
    refs = [
        r
        for r in speed["rows"]
        if r["kind"] == "pipeline" or (r["role"] == "teacher" and r["kind"] == "pytorch")
    ]
    return (
        f"Measured with `triage distill benchmark`: {speed_setup(speed)}\n\n"
        f"{speed_table(speed, own + refs)}\n"
    )


def fill_cards(speed: Mapping[str, Any] | None, evaluation: Mapping[str, Any] | None) -> list[Path]:
    """Rewrite the EVAL / SPEED sections of every evaluated or benchmarked model package."""
    import json

    paths = {r["path"] for r in (speed or {}).get("rows", []) if r["kind"] == "onnx"}
    paths |= {m["path"] for m in (evaluation or {}).get("models", []) if m["kind"] == "onnx"}
    written = []
    for path in sorted(paths):
        meta_file = Path(path) / METADATA_FILE
        if not (Path(path) / "README.md").is_file() or not meta_file.is_file():
            continue
        sha = json.loads(meta_file.read_text(encoding="utf-8"))["files"]["model.onnx"]
        sections = {}
        if evaluation and (body := card_eval_section(evaluation, sha)):
            sections["EVAL"] = body
        if speed and (body := card_speed_section(speed, sha)):
            sections["SPEED"] = body
        if sections and fill_package_card(path, sections):
            written.append(Path(path) / "README.md")
    return written


def publish(
    speed: Mapping[str, Any] | None,
    evaluation: Mapping[str, Any] | None,
    results_md: str | Path | None,
    plot_png: str | Path | None,
    cards: bool = True,
) -> dict[str, Any]:
    """Write what the available results allow: plot, RESULTS.md section, model cards."""
    done: dict[str, Any] = {}
    plot_ref = None
    if speed and evaluation and plot_png:
        if accuracy_speed_plot(evaluation, speed, Path(plot_png)):
            done["plot"] = str(plot_png)
            if results_md:
                plot_ref = Path(
                    os.path.relpath(Path(plot_png).resolve(), Path(results_md).resolve().parent)
                ).as_posix()
    if results_md:
        done["results_md"] = str(
            replace_markdown_section(
                results_md, SECTION, results_section(speed, evaluation, plot_ref)
            )
        )
    if cards:
        done["cards"] = [str(p) for p in fill_cards(speed, evaluation)]
    return done
