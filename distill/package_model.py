"""Assemble a model package folder (see ``models/package.py`` for the layout)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from models.package import LABELS, METADATA_FILE, MODELS_DIR, write_metadata

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
PREPROCESSING = "tweet-v1"  # models.preprocess.PREPROCESSORS: distill.normalize.normalize_text


def write_package(
    out_dir: Path,
    onnx_file: Path,
    hf_dir: Path,
    meta: dict[str, Any],
    readme: str | None = None,
) -> Path:
    """Copy ``onnx_file`` (as model.onnx), the tokenizer and config.json of ``hf_dir`` into a
    fresh ``out_dir``, write README.md and triage.json (checksums). Returns ``out_dir``."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    shutil.copy(onnx_file, out_dir / "model.onnx")
    for name in TOKENIZER_FILES:
        if (hf_dir / name).is_file():
            shutil.copy(hf_dir / name, out_dir / name)
    config = json.loads((hf_dir / "config.json").read_text("utf-8"))
    config["id2label"] = {str(i): label for i, label in enumerate(LABELS)}
    config["label2id"] = {label: i for i, label in enumerate(LABELS)}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
    if readme is not None:
        (out_dir / "README.md").write_text(readme, "utf-8")
    write_metadata(out_dir, {"labels": list(LABELS), "preprocessing": PREPROCESSING, **meta})
    return out_dir


def refresh_checksums(package_dir: str | Path) -> Path:
    """Recompute triage.json's checksums after an intended edit (e.g. README tables)."""
    root = Path(package_dir)
    meta = json.loads((root / METADATA_FILE).read_text("utf-8"))
    meta.pop("files", None)
    return write_metadata(root, meta)


def folder_size_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 2)


def ship(package_dir: Path, name: str, models_dir: Path = MODELS_DIR) -> Path:
    """Copy a finished package into ``models/<name>/``."""
    target = models_dir / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package_dir, target)
    return target


def set_default(name: str, models_dir: Path = MODELS_DIR) -> Path:
    path = models_dir / "DEFAULT"
    path.write_text(name + "\n", "utf-8")
    return path
