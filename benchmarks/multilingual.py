"""Posts in other languages: per-language actionable recall/precision, and no English loss.

Three ways to classify, side by side on the same posts:

- ``english``: the English model alone (what the job did before: every post, any language);
- ``multilingual``: the multilingual package alone (USE multilingual v3 + distilled head);
- ``job``: what the job does now: the language is identified from the text
  (:mod:`pipeline.language`; the posts' own ``lang`` is not given) and a post the English model
  cannot read goes to the multilingual package (:class:`pipeline.post_stages.PostStages`).

Sets: ``crisismmd_translations`` (the same 202 CrisisMMD tweets in en, es, fr: evaluation only),
scored per language with the project's actionable rule (P(request) + P(offer) ≥ 0.5; gold from
the project's label mapping), and the English held-out test sets of ``runs/data`` (macro-F1 by
each set's task), where ``job`` must not lose more than 1 point against ``english``.

    nice -n 10 .venv/bin/python benchmarks/multilingual.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results import write_section  # noqa: E402
from distill import metrics  # noqa: E402
from distill.data import load_mapping, load_source, map_labels  # noqa: E402
from distill.multilingual_head import embeddings  # noqa: E402
from distill.splits import DATA_DIR, test_sets  # noqa: E402
from models.multilingual import DEFAULT_MULTILINGUAL, MultilingualClassifier  # noqa: E402
from models.runtime import OnnxClassifier  # noqa: E402
from pipeline.language import shared_identifier  # noqa: E402
from pipeline.post_stages import DEFAULT_MODEL_LANGUAGES  # noqa: E402

HEADING = "## Posts in other languages"
ACTIONABLE = ("request", "offer", "actionable")
SYSTEMS = ("english", "multilingual", "job")


def probabilities(
    texts: list[str], english: OnnxClassifier, multilingual: MultilingualClassifier
) -> dict[str, np.ndarray]:
    """Each system's 4-way probabilities for ``texts``."""
    p_en = np.concatenate(
        [english.predict_proba(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    p_ml = multilingual.head_proba(embeddings(texts))
    identifier = shared_identifier()
    foreign = np.array(
        [
            (lang := identifier.detect(t).lang) != "und"
            and lang not in DEFAULT_MODEL_LANGUAGES
            and multilingual.supports(lang)
            for t in texts
        ]
    )
    p_job = np.where(foreign[:, None], p_ml, p_en)
    return {"english": p_en, "multilingual": p_ml, "job": p_job, "foreign": foreign}


def actionable_scores(gold: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    predicted = probs[:, 0] + probs[:, 1] >= metrics.BINARY_THRESHOLD
    hits = int((predicted & gold).sum())
    return hits / max(1, int(gold.sum())), hits / max(1, int(predicted.sum()))


def translations_table(english, multilingual) -> tuple[str, dict]:
    frame = map_labels(load_source("crisismmd_translations"), load_mapping())
    frame = frame.filter(pl.col("raw_text").str.strip_chars() != "")
    rows, recall = [], {}
    for lang in ("en", "es", "fr"):
        part = frame.filter(pl.col("language") == lang)
        gold = part["target"].is_in(list(ACTIONABLE)).to_numpy()
        probs = probabilities(part["raw_text"].to_list(), english, multilingual)
        cells = []
        for system in SYSTEMS:
            r, p = actionable_scores(gold, probs[system])
            recall[(lang, system)] = r
            cells.append(f"{r:.3f} / {p:.3f}")
        moved = f"{probs['foreign'].mean():.1%}"
        rows.append(
            f"| {lang} | {part.height} | {int(gold.sum())} | {' | '.join(cells)} | {moved} |"
        )
    ratio_rows = []
    for system in SYSTEMS:
        base = recall[("en", "job")]
        ratio_rows.append(
            f"| {system} | "
            + " | ".join(f"{recall[(lang, system)] / base:.2f}" for lang in ("es", "fr"))
            + " |"
        )
    table = (
        "| lang | posts | actionable | english R / P | multilingual R / P | job R / P | "
        "sent to the multilingual model |\n|---|---:|---:|---|---|---|---:|\n"
        + "\n".join(rows)
        + "\n\nRecall as a share of the job's English recall on the same posts "
        "(target ≥ 0.7):\n\n| system | es | fr |\n|---|---:|---:|\n" + "\n".join(ratio_rows)
    )
    return table, recall


def english_table(english, multilingual, prepared: Path) -> tuple[str, float]:
    rows, worst = [], 0.0
    for name, frame in test_sets(prepared).items():
        task = str(frame["task"][0])
        probs = probabilities(frame["text"].to_list(), english, multilingual)
        gold = frame["gold"].to_list()
        f1 = {s: metrics.score_task(gold, probs[s], task)["macro_f1"] for s in SYSTEMS}
        delta = (f1["job"] - f1["english"]) * 100
        worst = min(worst, delta)
        rows.append(
            f"| {name} ({task}, n={frame.height}) | {f1['english']:.3f} | "
            f"{f1['multilingual']:.3f} | {f1['job']:.3f} | {delta:+.2f} | "
            f"{probs['foreign'].mean():.2%} |"
        )
    table = (
        "| English test set | english | multilingual | job | job − english (points) | "
        "sent to the multilingual model |\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows)
    )
    return table, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--english", default=None, help="English model (default: models/DEFAULT)")
    parser.add_argument("--multilingual", type=Path, default=DEFAULT_MULTILINGUAL)
    parser.add_argument("--prepared", type=Path, default=DATA_DIR)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    english = OnnxClassifier.from_path(args.english)
    multilingual = MultilingualClassifier.from_path(args.multilingual)
    trans, _ = translations_table(english, multilingual)
    eng, worst = english_table(english, multilingual, args.prepared)
    load = os.getloadavg()
    section = (
        f"{HEADING}\n\n"
        f"Command: `nice -n 10 .venv/bin/python benchmarks/multilingual.py` (English model "
        f"{english.model_id}, multilingual {multilingual.package.model_id}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}). Actionable = P(request) + P(offer) ≥ 0.5; "
        "R / P = recall / precision of actionable posts. `job` identifies each post's language "
        "from its text and sends languages the English model cannot read to the multilingual "
        "model.\n\n"
        "`crisismmd_translations` (evaluation only; same tweets in three languages):"
        f"\n\n{trans}\n\n"
        f"English test sets (macro-F1; worst job − english: {worst:+.2f} points, target ≥ −1):"
        f"\n\n{eng}\n"
    )
    print(section)
    if not args.no_write:
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
