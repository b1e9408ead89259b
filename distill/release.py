"""Export → int8 → parity → calibration → model package, for the teacher and the students."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from distill.calibrate import (
    REVIEW_TARGET_PRECISION,
    fit_temperature,
    review_thresholds,
    softmax,
)
from distill.config import RUNS_DIR, TrainConfig
from distill.export import export_folder
from distill.model_card import model_card
from distill.package_model import PREPROCESSING, folder_size_mb, write_package
from distill.quantize import (
    QuantizeOptions,
    agreement,
    ffn_output_matmuls,
    fuse_transformer,
    max_abs_diff,
    quantize_dynamic_int8,
)
from distill.scope import run_scope
from distill.splits import DATA_DIR, load_prepared
from distill.teacher import make_logger, torch_logits
from distill.training import ACTIONABLE_ID, target_ids
from models.errors import TriageError
from models.package import LABELS, ModelPackage

PARITY_ROWS = 256
MIN_INT8_AGREEMENT = 0.99  # int8 vs fp32 labels on dev
MAX_PACKAGE_MB = 30.0


def onnx_logits(package_dir: Path, texts: list[str], threads: int = 2) -> np.ndarray:
    from models.runtime import OnnxClassifier, RuntimeOptions

    package = ModelPackage.load(package_dir)
    classifier = OnnxClassifier(package, RuntimeOptions(intra_op_threads=threads))
    return classifier.logits(texts)


def dev_metrics(logits: np.ndarray, targets: list[str]) -> dict:
    """Macro-F1 on 4-way dev rows and actionable-vs-not F1 on all labelled dev rows."""
    from sklearn.metrics import f1_score

    y = target_ids(targets)
    pred = logits.argmax(axis=1)
    four = (y >= 0) & (y < ACTIONABLE_ID)
    gold_act = (y == 0) | (y == 1) | (y == ACTIONABLE_ID)
    pred_act = pred <= 1
    labelled = y >= 0
    return {
        "macro_f1_4way": round(float(f1_score(y[four], pred[four], average="macro")), 4),
        "accuracy_4way": round(float((y[four] == pred[four]).mean()), 4),
        "f1_actionable": round(float(f1_score(gold_act[labelled], pred_act[labelled])), 4),
        "rows_4way": int(four.sum()),
        "rows": int(labelled.sum()),
    }


def _parity_texts(dev: pl.DataFrame, n: int = PARITY_ROWS, seed: int = 13) -> list[str]:
    return dev.sample(n=min(n, dev.height), seed=seed)["text"].to_list()


def _trained_model(cfg: TrainConfig, runs: Path, missing_hint: str):
    """``(run_dir, log, hf_folder)`` of a finished training run, or a clear error."""
    run_dir = cfg.run_dir(runs)
    hf = run_dir / "model"
    if not (hf / "config.json").is_file():
        raise TriageError(f"no trained {cfg.role} in {hf}: {missing_hint}")
    return run_dir, make_logger(run_dir), hf


def _torch_onnx_parity(hf: Path, package: Path, texts: list[str], max_length: int) -> float:
    """Max |logit difference| between the PyTorch folder and its ONNX package on ``texts``."""
    return max_abs_diff(torch_logits(hf, texts, max_length), onnx_logits(package, texts))


def export_teacher(
    cfg: TrainConfig, data_dir: Path = DATA_DIR, runs: Path = RUNS_DIR, dev_cap: int = 800
) -> Path:
    """fp32 ONNX package of the teacher in ``runs/<name>/package`` (not shipped: ~440 MB)."""
    run_dir, log, hf = _trained_model(cfg, runs, "run `triage distill train-teacher` first")
    onnx_file, exporter = export_folder(hf, run_dir / "onnx")
    dev = load_prepared(data_dir)["dev"]
    parity_texts = _parity_texts(dev)
    meta = {"name": cfg.name, "version": cfg.version, "max_length": cfg.max_length}
    package = write_package(run_dir / "package", onnx_file, hf, {**meta, "temperature": 1.0})
    diff = _torch_onnx_parity(hf, package, parity_texts, cfg.max_length)
    dev4 = dev.filter(pl.col("target").is_in(LABELS))
    dev_sample = dev4.sample(n=min(dev_cap, dev4.height), seed=cfg.seed)
    metrics = dev_metrics(
        onnx_logits(package, dev_sample["text"].to_list()), dev_sample["target"].to_list()
    )
    log(f"teacher export ({exporter}): parity max|Δlogit| {diff:.2e}; dev {metrics}")
    if diff > 1e-4:
        log(f"WARNING: ONNX/PyTorch parity {diff:.2e} > 1e-4")
    write_package(
        run_dir / "package",
        onnx_file,
        hf,
        {
            **meta,
            "temperature": 1.0,
            "precision": "fp32",
            "exporter": exporter,
            "parity": {"onnx_fp32_vs_torch_max_abs_logit_diff": diff, "rows": len(parity_texts)},
            "dev": metrics,
            "training_config": cfg.to_dict(),
            "data": run_scope(run_dir, data_dir).as_dict(),
        },
    )
    return run_dir / "package"


def release_student(
    cfg: TrainConfig,
    data_dir: Path = DATA_DIR,
    runs: Path = RUNS_DIR,
    target_precision: float | dict[str, float] = REVIEW_TARGET_PRECISION,
    max_mb: float = MAX_PACKAGE_MB,
) -> Path:
    """Export, quantise, check and calibrate a trained student → ``runs/<name>/package``."""
    run_dir, log, hf = _trained_model(cfg, runs, f"run `triage distill distil {cfg.name}`")
    started = time.time()
    onnx_fp32, exporter = export_folder(hf, run_dir / "onnx")
    meta = {"name": cfg.name, "version": cfg.version, "max_length": cfg.max_length}
    fp32_pkg = write_package(run_dir / "package-fp32", onnx_fp32, hf, {**meta, "precision": "fp32"})

    data = load_prepared(data_dir)
    dev = data["dev"]
    texts, targets = dev["text"].to_list(), dev["target"].to_list()
    parity_texts = _parity_texts(dev)
    torch_vs_onnx = _torch_onnx_parity(hf, fp32_pkg, parity_texts, cfg.max_length)
    log(f"{cfg.name}: parity torch/onnx {torch_vs_onnx:.2e}")
    fp32 = onnx_logits(fp32_pkg, texts)
    quantization = QuantizeOptions(quantize_embeddings=cfg.quantize_embeddings)
    fallbacks = ffn_output_matmuls(onnx_fp32)
    source = fuse_transformer(onnx_fp32, run_dir / "onnx-fused")  # once, for every attempt
    while True:
        onnx_int8 = quantize_dynamic_int8(
            source, run_dir / "onnx-int8" / "model.onnx", quantization
        )
        int8_pkg = write_package(run_dir / "package", onnx_int8, hf, {**meta, "precision": "int8"})
        int8 = onnx_logits(int8_pkg, texts)
        agree = agreement(fp32, int8)
        log(f"{cfg.name}: int8/fp32 agreement {agree:.4f} ({quantization.describe()})")
        if agree >= MIN_INT8_AGREEMENT or not fallbacks:
            break
        # mixed precision: keep the next feed-forward output MatMul (bottom up) in fp32
        kept = (*quantization.fp32_nodes, fallbacks.pop(0))
        quantization = replace(quantization, fp32_nodes=kept)
    if agree < MIN_INT8_AGREEMENT:
        log(f"WARNING: int8 agrees with fp32 on only {agree:.2%} of dev")

    y = target_ids(targets)
    four = (y >= 0) & (y < ACTIONABLE_ID)
    temperature = fit_temperature(int8[four], y[four])
    thresholds, report = review_thresholds(
        softmax(int8[four], temperature), y[four], target_precision
    )
    metrics = {"int8": dev_metrics(int8, targets), "fp32": dev_metrics(fp32, targets)}
    log(f"{cfg.name}: T={temperature} thresholds {thresholds} dev {metrics['int8']}")
    manifest = json.loads((data_dir / "manifest.json").read_text("utf-8"))
    summary = json.loads((run_dir / "train_summary.json").read_text("utf-8"))
    trained_with = json.loads((run_dir / "config.json").read_text("utf-8"))  # as last trained
    full_meta = {
        **meta,
        "temperature": temperature,
        "thresholds": thresholds,
        "precision": "int8",
        "preprocessing": PREPROCESSING,
        "quantization": quantization.describe(),
        "exporter": exporter,
        "parity": {
            "onnx_fp32_vs_torch_max_abs_logit_diff": torch_vs_onnx,
            "parity_rows": len(parity_texts),
            "int8_vs_fp32_label_agreement_dev": round(agree, 5),
            "dev_rows": len(texts),
        },
        "calibration": {
            "fitted_on": "dev 4-way rows (int8 logits)",
            "target_precision": target_precision,
            "per_label": report,
        },
        "dev": metrics,
        "training_config": trained_with,
        "training": summary,
        "data": {
            "manifest_created": manifest["created"],
            "splits": manifest["splits"],
            **run_scope(run_dir, data_dir).as_dict(),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    readme = model_card(full_meta, manifest)
    package = write_package(run_dir / "package", onnx_int8, hf, full_meta, readme)
    size = folder_size_mb(package)
    log(f"{cfg.name}: package {package} {size} MB ({time.time() - started:.0f} s)")
    if size > max_mb:
        raise TriageError(f"{package} is {size} MB > {max_mb} MB: not shippable")
    return package
