"""Knowledge distillation: teacher logits (cached) → student trained on soft + hard targets.

The distillation set is a balanced sample of the labelled train split (``per_class``) plus
``transfer_rows`` unlabelled in-domain posts, plus ``augment_rows`` word-replaced copies of those
posts (``distill.augment``, TinyBERT-style) that only the teacher labels. Loss per batch:
``alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · hard`` where ``hard`` is the weighted
cross-entropy on 4-way rows and ``-log(p_request + p_offer)`` on merged request-or-offer rows
(transfer and augmented rows only have the soft term).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl

from distill.config import RUNS_DIR, TrainConfig, base_run_name
from distill.scope import write_run_scope
from distill.splits import DATA_DIR, load_prepared
from distill.student import build_student
from distill.teacher import make_logger
from distill.training import target_ids, train
from models.errors import TriageError
from models.package import ModelPackage

TEACHER_PACKAGE = RUNS_DIR / "teacher" / "package"


def prefix_sample(frame: pl.DataFrame, per_class: dict[str, int], seed: int) -> pl.DataFrame:
    """The first ``per_class[target]`` rows of a seeded shuffle of each target (all rows of
    unlisted targets). Raising a cap only adds rows, so cached teacher logits stay useful."""
    parts = []
    for (target,), rows in frame.sort("row_id").group_by("target", maintain_order=True):
        rows = rows.sample(fraction=1.0, shuffle=True, seed=seed)
        parts.append(rows.head(per_class.get(str(target), rows.height)))
    return pl.concat(parts)


def distill_rows(data: dict[str, pl.DataFrame], cfg: TrainConfig) -> pl.DataFrame:
    """Labelled (per-class capped) + transfer rows for one student run, in a seeded order."""
    labelled = prefix_sample(data["train"], cfg.per_class, cfg.seed)
    transfer = prefix_sample(data["transfer"], {"unlabelled": cfg.transfer_rows}, cfg.seed)
    rows = pl.concat([labelled, transfer]).select("text", "target")
    return rows.sample(fraction=1.0, shuffle=True, seed=cfg.seed)


def with_augmented(rows: pl.DataFrame, cfg: TrainConfig, log=print) -> pl.DataFrame:
    """``rows`` plus ``cfg.augment_rows`` word-replaced copies (target ``unlabelled``),
    reshuffled."""
    if cfg.augment_rows <= 0:
        return rows
    from distill.augment import augment_texts, teacher_neighbours
    from distill.base_models import mpnet_path

    table = teacher_neighbours(mpnet_path())
    copies = augment_texts(
        rows["text"].to_list(), table, cfg.augment_rows, cfg.augment_probability, cfg.seed
    )
    log(f"{cfg.name}: {len(copies)} augmented copies ({len(table)} replaceable words)")
    extra = pl.DataFrame({"text": copies, "target": ["unlabelled"] * len(copies)})
    return pl.concat([rows, extra]).sample(fraction=1.0, shuffle=True, seed=cfg.seed)


def text_keys(texts: list[str]) -> np.ndarray:
    """sha1 of each text (the per-text cache key)."""
    return np.array([hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts])


class LogitCache:
    """Teacher logits per text, in ``<dir>/<chunk>.npz`` files (keys + logits).

    The folder is specific to one teacher ONNX file (its checksum is in the folder name), so a
    retrained teacher never reuses stale logits. Each computed chunk is saved at once: an
    interrupted run resumes where it stopped.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.table: dict[str, np.ndarray] = {}
        for chunk in sorted(folder.glob("*.npz")):
            with np.load(chunk) as data:
                self.table.update(zip(data["keys"].tolist(), data["logits"], strict=True))

    def missing(self, keys: np.ndarray) -> list[int]:
        return [i for i, k in enumerate(keys.tolist()) if k not in self.table]

    def add(self, keys: np.ndarray, logits: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha1("".join(keys.tolist()).encode()).hexdigest()[:16]
        tmp = self.folder / f"{name}.partial"
        with tmp.open("wb") as handle:
            np.savez(handle, keys=keys, logits=logits)
        tmp.rename(self.folder / f"{name}.npz")
        self.table.update(zip(keys.tolist(), logits, strict=True))

    def get(self, keys: np.ndarray) -> np.ndarray:
        return np.stack([self.table[k] for k in keys.tolist()]).astype(np.float32)


def teacher_logits(
    texts: list[str], teacher: Path = TEACHER_PACKAGE, threads: int = 2, log=print
) -> np.ndarray:
    """Teacher logits for ``texts`` (ONNX fp32 teacher package), cached per text in
    ``<teacher>/../logits/<teacher onnx sha256[:16]>/``; only missing texts are computed."""
    from tqdm import tqdm

    from models.runtime import OnnxClassifier, RuntimeOptions

    if not (teacher / "triage.json").is_file():
        raise TriageError(f"no teacher package at {teacher}: run `triage distill export teacher`")
    package = ModelPackage.load(teacher)
    cache = LogitCache(teacher.parent / "logits" / package.files["model.onnx"][:16])
    keys = text_keys(texts)
    todo = cache.missing(keys)
    log(f"teacher logits: {len(texts) - len(todo)} cached, {len(todo)} to compute")
    if todo:
        classifier = OnnxClassifier(package, RuntimeOptions(intra_op_threads=threads))
        chunk = 512
        for start in tqdm(range(0, len(todo), chunk), desc="teacher logits", mininterval=10):
            idx = todo[start : start + chunk]
            cache.add(keys[idx], classifier.logits([texts[i] for i in idx]))
    return cache.get(keys)


def _base_runs(cfg: TrainConfig, runs: Path) -> list[Path]:
    """The earlier run a student starts from (``base: run:<name>``), if any."""
    name = base_run_name(cfg.base)
    return [runs / name / "model"] if name else []


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
    rows = with_augmented(distill_rows(data, cfg), cfg, log)
    log(f"{cfg.name}: distillation rows {dict(sorted(rows.group_by('target').len().iter_rows()))}")
    texts = rows["text"].to_list()
    soft = teacher_logits(texts, teacher, cfg.threads, log)
    write_run_scope(run_dir, data_dir, teacher, *_base_runs(cfg, runs))
    init = run_dir / "init"
    if (init / "config.json").is_file():
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(init)
        tokenizer = AutoTokenizer.from_pretrained(init)
    else:
        corpus = pl.concat([data["train"], data["dev"], data["transfer"]])["text"].to_list()
        model, tokenizer = build_student(cfg, corpus, init, runs)
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
