"""How findable are an unseen crisis's requests at all? In-crisis vs cross-crisis, one cheap model.

For each leave-one-crisis-out fold, a TF-IDF (word 1–2-grams + character 3–5-grams) logistic
regression with balanced class weights is scored on the crisis's posts two ways:

- in-crisis: 5-fold cross-validation inside the crisis (trained on 80% of that crisis's own
  labelled posts — more in-crisis labels than any responder team would give);
- cross-crisis: trained on every other fold and dev crisis (HumAID/SMERP posts only).

If in-crisis training does not reach request recall ≥ 0.80 at precision ≥ 0.60 either, the gap
is in the labels, not in the transfer. Needs `triage distill prepare --loco` output.

    python benchmarks/label_ceiling.py [--data-dir runs/data-loco] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_section  # noqa: E402
from distill.operating_point import recall_at_precision  # noqa: E402

HEADING = "## Unseen crises: how findable are requests at all (label ceiling)"


def _features(train: list[str], test: list[str]):  # noqa: ANN202
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True, max_features=200_000
    )
    x_train = hstack([words.fit_transform(train), chars.fit_transform(train)]).tocsr()
    x_test = hstack([words.transform(test), chars.transform(test)]).tocsr()
    return x_train, x_test


def _scores(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    x_train, x_test = _features(train, test)
    model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    return model.fit(x_train, y).predict_proba(x_test)[:, 1]


def ceiling_table(rows: list[dict]) -> str:
    """The RESULTS.md table: per crisis and the macro mean."""
    lines = [
        "Command: `python benchmarks/label_ceiling.py` (TF-IDF + logistic regression; see the "
        "script's docstring).",
        "",
        "| crisis | posts | requests | in-crisis AP | in-crisis R@P≥0.60 | cross-crisis AP "
        "| cross-crisis R@P≥0.60 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['crisis']} | {r['posts']} | {r['requests']} | {r['ap_in']:.2f} | "
            f"{r['rp_in']:.2f} | {r['ap_x']:.2f} | {r['rp_x']:.2f} |"
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("ap_in", "rp_in", "ap_x", "rp_x")}
    lines.append(
        f"| **macro mean** | | | {mean['ap_in']:.2f} | {mean['rp_in']:.2f} | "
        f"{mean['ap_x']:.2f} | {mean['rp_x']:.2f} |"
    )
    return "\n".join(lines)


def main() -> int:
    import polars as pl
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT / "runs" / "data-loco"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    root = Path(args.data_dir) / "test"
    if not (root / "loco").is_dir():
        parser.error(f"no {root}/loco: run `triage distill prepare --loco` first")
    frames = {
        f.stem: pl.read_parquet(f).select("text", "gold")
        for f in sorted((root / "loco").glob("*.parquet")) + sorted(root.glob("loco-dev/*.parquet"))
    }
    folds = sorted(f.stem for f in (root / "loco").glob("*.parquet"))
    rows = []
    for crisis in tqdm(folds, desc="crises"):
        frame = frames[crisis]
        y = (frame["gold"] == "request").to_numpy().astype(int)
        texts = frame["text"].to_list()
        inside = np.zeros(len(y))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y):
            inside[test] = _scores([texts[i] for i in train], y[train], [texts[i] for i in test])
        others = pl.concat([f for name, f in frames.items() if name != crisis])
        y_other = (others["gold"] == "request").to_numpy().astype(int)
        across = _scores(others["text"].to_list(), y_other, texts)
        rows.append(
            {
                "crisis": crisis,
                "posts": len(y),
                "requests": int(y.sum()),
                "ap_in": average_precision_score(y, inside),
                "rp_in": recall_at_precision(y.astype(bool), inside, 0.60),
                "ap_x": average_precision_score(y, across),
                "rp_x": recall_at_precision(y.astype(bool), across, 0.60),
            }
        )
    table = ceiling_table(rows)
    print(table)
    if not args.no_write:
        write_section(HEADING, f"{HEADING}\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
