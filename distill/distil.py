"""Knowledge distillation: teacher logits (cached) → student trained on soft + hard targets.

The distillation set is a balanced sample of the labelled train split (``per_class``) plus
``transfer_rows`` unlabelled in-domain posts. Loss per batch:
``alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · hard`` where ``hard`` is the weighted
cross-entropy on 4-way rows and ``-log(p_request + p_offer)`` on merged request-or-offer rows
(transfer rows only have the soft term).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl

from distill.config import RUNS_DIR, TrainConfig
from distill.splits import DATA_DIR, load_prepared
from distill.student import build_student
from distill.teacher import make_logger
from distill.training import balanced_sample, target_ids, train
from models.errors import TriageError
from models.package import ModelPackage

TEACHER_PACKAGE = RUNS_DIR / "teacher" / "package"


def distill_rows(data: dict[str, pl.DataFrame], cfg: TrainConfig) -> pl.DataFrame:
    """Labelled (balanced) + transfer rows for one student run, in a seeded order."""
    labelled = balanced_sample(data["train"], cfg.per_class, cfg.seed)
    transfer = data["transfer"]
    if cfg.transfer_rows < transfer.height:
        transfer = transfer.sample(n=cfg.transfer_rows, seed=cfg.seed)
    rows = pl.concat([labelled, transfer]).select("text", "target")
    return rows.sample(fraction=1.0, shuffle=True, seed=cfg.seed)


def texts_digest(texts: list[str], *extra: str) -> str:
    digest = hashlib.sha256()
    for part in (*extra, *texts):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def teacher_logits(
    texts: list[str], teacher: Path = TEACHER_PACKAGE, threads: int = 2, log=print
) -> np.ndarray:
    """Teacher logits for ``texts``, cached in ``<teacher>/../logits/<hash>.npy``.

    The hash covers the teacher's ONNX checksum and every text, so a changed teacher or
    data set never reuses stale logits.
    """
    from models.runtime import OnnxClassifier, RuntimeOptions

    if not (teacher / "triage.json").is_file():
        raise TriageError(f"no teacher package at {teacher}: run `triage distill export teacher`")
    package = ModelPackage.load(teacher)
    key = texts_digest(texts, package.files["model.onnx"], str(package.max_length))
    cache = teacher.parent / "logits" / f"{key}.npy"
    if cache.is_file():
        log(f"teacher logits from cache {cache}")
        return np.load(cache)
    classifier = OnnxClassifier(package, RuntimeOptions(intra_op_threads=threads, batch_size=32))
    from tqdm import tqdm

    out = np.zeros((len(texts), len(package.labels)), dtype=np.float32)
    chunk = 512
    for start in tqdm(range(0, len(texts), chunk), desc="teacher logits", mininterval=10):
        out[start : start + chunk] = classifier.logits(texts[start : start + chunk])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    log(f"teacher logits for {len(texts)} texts → {cache}")
    return out


def distil_student(
    cfg: TrainConfig,
    data_dir: Path = DATA_DIR,
    runs: Path = RUNS_DIR,
    teacher: Path = TEACHER_PACKAGE,
) -> Path:
    """Build (or resume) and train one student; returns its HF folder ``runs/<name>/model``."""
    run_dir = cfg.run_dir(runs)
    log = make_logger(run_dir)
    (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", "utf-8")
    data = load_prepared(data_dir)
    rows = distill_rows(data, cfg)
    log(f"{cfg.name}: distillation rows {dict(sorted(rows.group_by('target').len().iter_rows()))}")
    texts = rows["text"].to_list()
    soft = teacher_logits(texts, teacher, cfg.threads, log)
    init = run_dir / "init"
    if (init / "config.json").is_file():
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(init)
        tokenizer = AutoTokenizer.from_pretrained(init)
    else:
        corpus = pl.concat([data["train"], data["dev"], data["transfer"]])["text"].to_list()
        model, tokenizer = build_student(cfg, corpus, init)
    log(
        f"{cfg.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
        f"{model.config.num_hidden_layers} layers, vocab {model.config.vocab_size}"
    )
    summary = train(
        model, tokenizer, texts, target_ids(rows["target"].to_list()), cfg, run_dir, soft, log
    )
    out = run_dir / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log(f"saved {out}: {summary}")
    return out
