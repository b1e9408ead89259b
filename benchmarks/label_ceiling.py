"""How findable are an unseen crisis's requests at all? In-crisis vs cross-crisis.

For each leave-one-crisis-out fold, a logistic regression with balanced class weights is scored
on the crisis's posts two ways:

- in-crisis: 5-fold cross-validation inside the crisis (trained on 80% of that crisis's own
  labelled posts — more in-crisis labels than any responder team would give);
- cross-crisis: trained on every other fold and dev crisis (HumAID/SMERP posts only).

Two feature sets: TF-IDF (word 1–2-grams + character 3–5-grams), and, with ``--encoders``, the
mean-pooled last layer of a fine-tuned transformer that never saw the crisis (the
leave-one-crisis-out MiniLM teachers: each fold is embedded by the teacher whose
``data_scope.json`` holds it out), so the in-crisis row is "a crisis-trained head on a
crisis-aware encoder".

If in-crisis training does not reach request recall ≥ 0.80 at precision ≥ 0.60 either, the gap
is in the labels, not in the transfer.

With ``--model`` (default: the shipped default), also the operating-point bound: on each fold,
the smallest review share with which ≥ 90% of the true requests reach ``requests`` or
``review``, with the review floor chosen *on that fold itself* (an oracle no deployment has),
for the job's rule (every low-confidence post to review) and for a rule that sends only possible
requests to review. If even the oracle needs more than 15% review, no threshold chosen on dev
crises can meet issue 13's second target with that model.

Needs `triage distill prepare --loco` output.

    python benchmarks/label_ceiling.py [--data-dir runs/data-loco] [--no-write]
    python benchmarks/label_ceiling.py --encoders runs/loco-a/teacher-minilm \\
        runs/loco-b/teacher-minilm
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


def ceiling_row(crisis: str, y: np.ndarray, inside: np.ndarray, across: np.ndarray) -> dict:
    """One crisis: request AP and R@P≥0.60 of the in-crisis and the cross-crisis scores."""
    from sklearn.metrics import average_precision_score

    truth = y.astype(bool)
    return {
        "crisis": crisis,
        "posts": len(y),
        "requests": int(y.sum()),
        "ap_in": average_precision_score(y, inside),
        "rp_in": recall_at_precision(truth, inside, 0.60),
        "ap_x": average_precision_score(y, across),
        "rp_x": recall_at_precision(truth, across, 0.60),
    }


def _encoder_for(crisis: str, encoders: list[Path]) -> Path | None:
    """The first encoder whose training held ``crisis`` out (its ``data_scope.json``)."""
    import json

    for encoder in encoders:
        scope = json.loads((encoder / "data_scope.json").read_text(encoding="utf-8"))
        if crisis in scope.get("loco_events", []):
            return encoder
    return None


def _embed(encoder: Path, texts: list[str], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(mean-pooled last layer, P(request) of the encoder's own head) for ``texts``; cached."""
    from distill.evaluate import texts_digest

    file = cache / encoder.parent.name / f"{texts_digest(texts)[:16]}.npz"
    if file.is_file():
        saved = np.load(file)
        return saved["pooled"], saved["request"]
    import json

    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.preprocess import PREPROCESSORS

    package = json.loads((encoder / "package" / "triage.json").read_text(encoding="utf-8"))
    preprocess = PREPROCESSORS[package.get("preprocessing", "none")]
    tokenizer = AutoTokenizer.from_pretrained(encoder / "model")
    model = AutoModelForSequenceClassification.from_pretrained(encoder / "model").eval()
    request = list(package["labels"]).index("request")
    pooled, probs = [], []
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), 128), desc=f"embed ({encoder.parent.name})"):
            batch = tokenizer(
                [preprocess(t) for t in texts[start : start + 128]],
                padding=True,
                truncation=True,
                max_length=int(package.get("max_length", 64)),
                return_tensors="pt",
            )
            out = model(**batch, output_hidden_states=True)
            mask = batch["attention_mask"].unsqueeze(-1).float()
            hidden = out.hidden_states[-1]
            pooled.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
            probs.append(torch.softmax(out.logits, -1)[:, request].numpy())
    result = np.concatenate(pooled), np.concatenate(probs)
    file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(file, pooled=result[0], request=result[1])
    return result


def _in_crisis_cv(features, y: np.ndarray, fit_score) -> np.ndarray:  # noqa: ANN001
    """Out-of-fold scores of 5-fold stratified cross-validation inside one crisis."""
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(features, y):
        scores[test] = fit_score(train, test)
    return scores


def encoder_rows(frames: dict, folds: list[str], encoders: list[Path], cache: Path) -> list[dict]:
    """In-crisis head on a held-out fine-tuned encoder vs that encoder's own head, per fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rows = []
    for crisis in folds:
        encoder = _encoder_for(crisis, encoders)
        if encoder is None:
            print(f"note: no encoder holds {crisis} out; skipped")
            continue
        frame = frames[crisis]
        y = (frame["gold"] == "request").to_numpy().astype(int)
        pooled, own = _embed(encoder, frame["text"].to_list(), cache)
        x = StandardScaler().fit_transform(pooled)

        def fit_score(train, test, x=x, y=y):  # noqa: ANN001, ANN202
            model = LogisticRegression(C=0.5, max_iter=3000, class_weight="balanced")
            return model.fit(x[train], y[train]).predict_proba(x[test])[:, 1]

        inside = _in_crisis_cv(x, y, fit_score)
        rows.append(ceiling_row(crisis, y, inside, own))
    return rows


REACH = 0.90
REVIEW_TARGET = 0.15


def _review_share_for_reach(gold: np.ndarray, probs: np.ndarray, thresholds, rule: str) -> float:
    """The smallest review share with which ≥ ``REACH`` of the true requests reach ``requests``
    or ``review``, over every request review floor (the fold's own best: an oracle).

    ``rule``: ``job`` (every post below its label's threshold goes to review, as the job routes:
    :func:`distill.operating_point.request_review_floor` on the fold itself) or
    ``requests-only`` (only possible requests go to review; other unsure posts keep their
    label's topic)."""
    from distill.operating_point import request_review_floor
    from models.package import LABELS

    if rule == "job":
        return float(request_review_floor(gold, probs, thresholds, REACH)[1]["review_share"])
    r = LABELS.index("request")
    top = probs.argmax(1)
    below = probs.max(1) < np.array([thresholds.get(LABELS[i], 0.0) for i in top])
    to_requests = (top == r) & ~below
    unsure = below & (top == r)
    truth = gold == "request"
    best = 1.0
    for floor in np.unique(probs[truth, r]):
        review = unsure | ((probs[:, r] >= floor) & ~to_requests)
        if (truth & (to_requests | review)).sum() >= REACH * truth.sum():
            best = min(best, float(review.mean()))
    return best


def operating_point_rows(model: str, data_dir: Path) -> tuple[str, list[dict]]:
    """Per fold: the oracle review share for ``REACH`` under both rules (see module docstring)."""
    from distill.folds import fold_sets
    from distill.loco_eval import LocoRun, allowed_crises, predict_crises, thresholds_of
    from distill.predictors import load_predictor
    from distill.scope import model_scope
    from models.package import resolve_model

    frames, info = fold_sets(data_dir)
    run = LocoRun(
        folds=frames, fold_info=info, out_dir=ROOT / "runs" / "eval-loco", log=lambda _: None
    )
    path = resolve_model(model)
    scope = model_scope(path)
    predictor = load_predictor(path, threads=2, batch_size=32)
    allowed, _ = allowed_crises(predictor.name, scope, info, run, "fold")
    scored = predict_crises(predictor, {f: frames[f] for f in allowed}, scope, run, "loco-", {})
    thresholds = thresholds_of(predictor)
    rows = []
    for crisis, (gold, probs, _) in scored.items():
        gold = np.asarray(gold, dtype=object)
        rows.append(
            {
                "crisis": crisis,
                "posts": len(gold),
                "requests": int((gold == "request").sum()),
                "job": _review_share_for_reach(gold, probs, thresholds, "job"),
                "requests_only": _review_share_for_reach(gold, probs, thresholds, "requests-only"),
            }
        )
    return predictor.name, rows


def ceiling_table(
    rows: list[dict], columns: tuple[str, str] = ("in-crisis", "cross-crisis")
) -> str:
    """A ceiling table: per crisis and the macro mean."""
    inside, across = columns
    lines = [
        f"| crisis | posts | requests | {inside} AP | {inside} R@P≥0.60 | {across} AP "
        f"| {across} R@P≥0.60 |",
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


def operating_point_table(name: str, rows: list[dict]) -> str:
    """The oracle operating-point table."""
    lines = [
        f"Oracle operating point of {name}: on each fold, the request review floor chosen on that "
        f"fold's own labels so that ≥ {REACH:.0%} of its requests reach `requests` or `review` "
        "with the smallest review queue (no deployment can choose it this way; dev-chosen floors "
        "can only do worse). Review share: the queue's share of all posts; target "
        f"≤ {REVIEW_TARGET:.0%}.",
        "",
        "| crisis | posts | requests | review share, the job's rule | review share, only "
        "possible requests reviewed |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['crisis']} | {r['posts']} | {r['requests']} | {r['job']:.2f} | "
            f"{r['requests_only']:.2f} |"
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("job", "requests_only")}
    lines.append(f"| **macro mean** | | | {mean['job']:.2f} | {mean['requests_only']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    import polars as pl
    from tqdm import tqdm

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/label_ceiling.py --encoders "
        "runs/loco-a/teacher-minilm runs/loco-b/teacher-minilm",
    )
    parser.add_argument("--data-dir", default=str(ROOT / "runs" / "data-loco"))
    parser.add_argument(
        "--encoders",
        nargs="*",
        type=Path,
        default=[],
        help="leave-one-crisis-out teacher run folders (model/, package/, data_scope.json)",
    )
    parser.add_argument("--model", default="triage-tiny", help="model for the operating point")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "label-ceiling")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    root = Path(args.data_dir) / "test"
    if not (root / "loco").is_dir():
        parser.error(f"no {root}/loco: run `triage distill prepare --loco` first")
    for encoder in args.encoders:
        if not (encoder / "data_scope.json").is_file() or not (encoder / "model").is_dir():
            parser.error(f"{encoder}: not a trained teacher run (no data_scope.json or model/)")
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

        def fit_score(train, test, texts=texts, y=y):  # noqa: ANN001, ANN202
            return _scores([texts[i] for i in train], y[train], [texts[i] for i in test])

        inside = _in_crisis_cv(texts, y, fit_score)
        others = pl.concat([f for name, f in frames.items() if name != crisis])
        y_other = (others["gold"] == "request").to_numpy().astype(int)
        across = _scores(others["text"].to_list(), y_other, texts)
        rows.append(ceiling_row(crisis, y, inside, across))
    command = "python benchmarks/label_ceiling.py " + " ".join(sys.argv[1:])
    parts = [
        f"Command: `{command.strip()}` (see the script's docstring).",
        "TF-IDF + logistic regression:",
        ceiling_table(rows),
    ]
    if args.encoders:
        enc = encoder_rows(frames, folds, args.encoders, args.cache)
        parts += [
            "Fine-tuned transformer features (the leave-one-crisis-out MiniLM teacher that never "
            "saw the crisis, mean-pooled last layer): in-crisis = a logistic-regression head "
            "trained by 5-fold cross-validation on the crisis's own labels; cross-crisis = the "
            "teacher's own classification head.",
            ceiling_table(enc, ("in-crisis head", "teacher head")),
        ]
    name, points = operating_point_rows(args.model, Path(args.data_dir))
    parts.append(operating_point_table(name, points))
    text = "\n\n".join(parts)
    print(text)
    if not args.no_write:
        write_section(HEADING, f"{HEADING}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
