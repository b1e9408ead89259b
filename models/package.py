"""A model package: an ONNX classifier, its tokenizer and its metadata, verified by sha256.

Layout (Hugging Face folder conventions plus one ``triage.json``)::

    models/<name>/
      model.onnx            int8 (or fp32) ONNX graph: inputs input_ids, attention_mask
                            [, token_type_ids]; output logits [batch, n_labels]
      tokenizer.json        fast tokenizer (plus tokenizer_config.json, special_tokens_map.json)
      config.json           Hugging Face model config with id2label / label2id
      triage.json           name, version, labels, max_length, temperature, thresholds,
                            review_floors (optional), files
      README.md             model card

``triage.json["files"]`` maps every file of the package (except triage.json itself) to its
sha256; :meth:`ModelPackage.load` refuses a package whose files are missing or altered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ModelPackageError

LABELS: tuple[str, ...] = ("request", "offer", "emotional_support", "other")
METADATA_FILE = "triage.json"
REQUIRED_FILES: tuple[str, ...] = ("model.onnx", "tokenizer.json")
MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_FILE = MODELS_DIR / "DEFAULT"


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelPackage:
    """Metadata of a verified model package on disk."""

    path: Path
    name: str
    version: str
    labels: tuple[str, ...]
    max_length: int = 128
    temperature: float = 1.0
    thresholds: dict[str, float] = field(default_factory=dict)
    review_floors: dict[str, float] = field(default_factory=dict)
    """label → P(label) at or above which a post that is not routed to that label's topic goes
    to review instead (e.g. ``{"request": 0.07}``: a possible request is never filed away)."""
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_file(self) -> Path:
        return self.path / "model.onnx"

    @property
    def tokenizer_file(self) -> Path:
        return self.path / "tokenizer.json"

    @property
    def model_id(self) -> str:
        """``name@version``, as reported in outputs and metrics."""
        return f"{self.name}@{self.version}"

    def threshold(self, label: str) -> float:
        return float(self.thresholds.get(label, 0.0))

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> ModelPackage:
        """Read ``triage.json`` and (by default) verify every listed file's sha256."""
        root = Path(path).expanduser()
        if not root.is_dir():
            raise ModelPackageError(
                f"model folder {root} does not exist (pass --model DIR with a model package, "
                f"e.g. one of: {', '.join(available_models()) or 'none shipped'})"
            )
        meta_path = root / METADATA_FILE
        if not meta_path.is_file():
            raise ModelPackageError(f"{root} is not a model package: {METADATA_FILE} is missing")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelPackageError(f"{meta_path} is not valid JSON: {exc}") from exc
        for key in ("name", "version", "labels", "files"):
            if key not in meta:
                raise ModelPackageError(f"{meta_path} has no '{key}' field")
        files: dict[str, str] = dict(meta["files"])
        for required in REQUIRED_FILES:
            if required not in files:
                raise ModelPackageError(f"{meta_path} lists no checksum for {required}")
        if verify:
            verify_files(root, files)
        known = {
            "name",
            "version",
            "labels",
            "max_length",
            "temperature",
            "thresholds",
            "review_floors",
            "files",
        }
        return cls(
            path=root,
            name=str(meta["name"]),
            version=str(meta["version"]),
            labels=tuple(meta["labels"]),
            max_length=int(meta.get("max_length", 128)),
            temperature=float(meta.get("temperature", 1.0)),
            thresholds={k: float(v) for k, v in meta.get("thresholds", {}).items()},
            review_floors={k: float(v) for k, v in meta.get("review_floors", {}).items()},
            files=files,
            extra={k: v for k, v in meta.items() if k not in known},
        )


def verify_files(root: Path, files: dict[str, str]) -> None:
    """Raise ModelPackageError naming the first missing or altered file."""
    for name, expected in sorted(files.items()):
        file_path = root / name
        if not file_path.is_file():
            raise ModelPackageError(f"model package {root}: {name} is missing")
        actual = sha256_of(file_path)
        if actual != expected:
            raise ModelPackageError(
                f"model package {root}: checksum mismatch for {name} "
                f"(expected {expected[:12]}…, got {actual[:12]}…); the file is corrupt or was "
                "changed after packaging: rebuild or re-download the package"
            )


def write_metadata(root: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``triage.json`` with sha256 of every other file in ``root`` (recursively)."""
    root = Path(root)
    files = {
        p.relative_to(root).as_posix(): sha256_of(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != METADATA_FILE
    }
    meta = {**meta, "files": files}
    meta.setdefault("labels", list(LABELS))
    out = root / METADATA_FILE
    out.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return out


def available_models() -> list[str]:
    """Names of the model packages shipped in ``models/``."""
    return sorted(p.parent.name for p in MODELS_DIR.glob(f"*/{METADATA_FILE}"))


def default_model_path() -> Path:
    """The shipped default model: the folder named in ``models/DEFAULT``."""
    if DEFAULT_MODEL_FILE.is_file():
        name = DEFAULT_MODEL_FILE.read_text(encoding="utf-8").strip()
        return MODELS_DIR / name
    shipped = available_models()
    if not shipped:
        raise ModelPackageError(
            "no model package is shipped in models/ yet: pass --model DIR "
            "(build one with `triage distill ...`)"
        )
    return MODELS_DIR / shipped[0]


def resolve_model(path: str | Path | None) -> Path:
    """``--model`` value → package folder: a path, a shipped model's name, or the default."""
    if path is None or str(path) == "":
        return default_model_path()
    candidate = Path(path).expanduser()
    if not candidate.exists() and (MODELS_DIR / str(path)).is_dir():
        return MODELS_DIR / str(path)
    return candidate
