"""PNG figures for evaluation: confusion matrices, the accuracy–speed trade-off, and
precision–recall curves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PrCurve:
    """One model's precision–recall curve and its operating point ``(precision, recall)``."""

    name: str
    precision: Sequence[float]
    recall: Sequence[float]
    point: tuple[float, float] | None = None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def confusion_png(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str, out: str | Path
) -> Path:
    """Row-normalised confusion matrix with counts in the cells; gold rows, predicted columns."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = 1.2 + 0.9 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if share[i, j] > 0.6 else "black"
            ax.text(
                j,
                i,
                f"{int(counts[i, j])}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    return _save(plt, fig, out)


def accuracy_speed_png(
    points: Sequence[tuple[str, float, float]], out: str | Path, title: str = ""
) -> Path:
    """Scatter of (name, posts/s, mean macro-F1) on a log x axis, each point labelled."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    for index, (name, speed, f1) in enumerate(sorted(points, key=lambda p: p[1])):
        ax.scatter([speed], [f1], s=45, zorder=3, label=name)
        offset = (6, 8) if index % 2 == 0 else (6, -14)  # alternate so neighbours don't collide
        ax.annotate(name, (speed, f1), textcoords="offset points", xytext=offset, fontsize=8)
    speeds = [p[1] for p in points]
    scores = [p[2] for p in points]
    ax.set_xscale("log")
    ax.set_xlim(min(speeds) / 1.6, max(speeds) * 6)
    spread = max(max(scores) - min(scores), 0.02)
    ax.set_ylim(min(scores) - 0.3 * spread, max(scores) + 0.3 * spread)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("posts/s (2 CPU threads, batch 32, log scale)")
    ax.set_ylabel("mean macro-F1 over test sets")
    ax.set_title(title or "Accuracy vs speed", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return _save(plt, fig, out)


def pr_curves_png(
    curves: Sequence[PrCurve], out: str | Path, title: str, precision_floor: float | None = None
) -> Path:
    """Precision–recall curves, one per model, each with its operating point as a dot; a
    dashed line marks ``precision_floor``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for curve in curves:
        (line,) = ax.plot(curve.recall, curve.precision, lw=1.4, label=curve.name)
        if curve.point is not None:
            ax.scatter([curve.point[1]], [curve.point[0]], color=line.get_color(), s=36, zorder=3)
    if precision_floor is not None:
        ax.axhline(precision_floor, color="grey", lw=0.8, ls="--")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return _save(plt, fig, out)


def _save(plt, fig, out: str | Path) -> Path:
    """Lay out, write the PNG (creating its folder) and free the figure."""
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
