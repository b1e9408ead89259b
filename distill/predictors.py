"""Three ways to run a classifier, behind one interface: texts → ``[n, 4]`` probabilities.

- :class:`OnnxPredictor`: a model package (``models.runtime.OnnxClassifier``) or a bare ONNX
  export folder (``model.onnx`` + ``tokenizer.json`` + ``config.json``), e.g. the teacher in fp32.
- :class:`TorchPredictor`: a Hugging Face PyTorch folder, fp32, length-sorted dynamic padding —
  the fair PyTorch baseline (same batching tricks as the ONNX runtime).
- :class:`PipelinePredictor`: ``transformers.pipeline("text-classification", top_k=None)`` on
  the same folder — what a user would run without this project.

Columns always come back in ``models.package.LABELS`` order, whatever the model's own order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from models.errors import TriageError
from models.package import LABELS, METADATA_FILE, ModelPackage, resolve_model, sha256_of

KINDS: tuple[str, ...] = ("onnx", "pytorch", "pipeline")
TORCH_WEIGHTS: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
QUANTIZED_OPS = {"MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QAttention"}


class Predictor(Protocol):
    """What evaluation and the benchmark need from a model."""

    name: str  # display name, e.g. "triage-small@1.0.0 (ONNX int8)"
    kind: str  # one of KINDS

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities ``[len(texts), 4]``, columns in ``LABELS`` order."""
        ...

    @property
    def identity(self) -> str:
        """sha256 of the weights file: the cache key for results."""
        ...

    @property
    def model_bytes(self) -> int:
        """Size of the weights on disk."""
        ...


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when inside it (for result files)."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(resolved)


def column_order(model_labels: Sequence[str]) -> list[int]:
    """Index of each of ``LABELS`` in the model's output columns."""
    model_labels = list(model_labels)
    if sorted(model_labels) == sorted(LABELS):
        return [model_labels.index(label) for label in LABELS]
    if len(model_labels) == len(LABELS) and all(lab.startswith("LABEL_") for lab in model_labels):
        return list(range(len(LABELS)))  # unnamed labels: trust the project-wide order
    raise TriageError(f"model labels {model_labels} are not the four labels {', '.join(LABELS)}")


def config_labels(folder: Path) -> list[str]:
    """Labels from a Hugging Face ``config.json`` (``id2label`` in index order)."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        return list(LABELS)
    id2label = json.loads(config_file.read_text(encoding="utf-8")).get("id2label") or {}
    if not id2label:
        return list(LABELS)
    return [id2label[key] for key in sorted(id2label, key=int)]


def onnx_precision(path: Path) -> str:
    """``int8`` when the graph holds quantized ops, else ``fp32``."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return "int8" if any(node.op_type in QUANTIZED_OPS for node in graph.node) else "fp32"


def _files_size(paths: Sequence[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


class OnnxPredictor:
    """A model package, or a bare ONNX export folder, run by ``OnnxClassifier``."""

    kind = "onnx"

    def __init__(self, path: str | Path, threads: int = 2):
        from models.runtime import OnnxClassifier, RuntimeOptions

        root = resolve_model(path)
        if (root / METADATA_FILE).is_file():
            package = ModelPackage.load(root)
        elif (root / "model.onnx").is_file() and (root / "tokenizer.json").is_file():
            package = ModelPackage(
                path=root,
                name=root.name,
                version="unpackaged",
                labels=tuple(config_labels(root)),
                max_length=training_max_length(root),
                files={"model.onnx": sha256_of(root / "model.onnx")},
            )
        else:
            raise TriageError(
                f"{root} is neither a model package ({METADATA_FILE}) nor an ONNX export "
                "(model.onnx + tokenizer.json)"
            )
        self.package = package
        self.classifier = OnnxClassifier(
            package,
            RuntimeOptions(intra_op_threads=threads, inter_op_threads=1),
        )
        self.columns = column_order(package.labels)
        self.precision = onnx_precision(package.model_file)
        self.name = f"{package.model_id} (ONNX {self.precision})"

    @property
    def identity(self) -> str:
        return self.package.files.get("model.onnx") or sha256_of(self.package.model_file)

    @property
    def model_bytes(self) -> int:
        root = self.package.path
        return _files_size([root / "model.onnx", *root.glob("model.onnx*data")])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.classifier.predict_proba(list(texts))[:, self.columns]


def run_name(folder: Path) -> str:
    """Display name of a Hugging Face folder: the run's name for ``runs/<name>/model``."""
    return folder.parent.name if folder.name == "model" else folder.name


def _weights_file(folder: Path) -> Path:
    for name in TORCH_WEIGHTS:
        if (folder / name).is_file():
            return folder / name
    raise TriageError(
        f"{folder} is not a Hugging Face model folder: no {' or '.join(TORCH_WEIGHTS)} "
        "(pass the folder that save_pretrained() wrote)"
    )


class _HfFolder:
    """Shared parts of the two PyTorch predictors: folder checks, identity, size, threads."""

    def __init__(self, folder: str | Path, threads: int):
        import torch

        self.folder = Path(folder).expanduser()
        self.weights = _weights_file(self.folder)
        torch.set_num_threads(max(1, threads))
        self.columns = column_order(config_labels(self.folder))

    @cached_property
    def identity(self) -> str:
        return sha256_of(self.weights)

    @property
    def model_bytes(self) -> int:
        return self.weights.stat().st_size


def training_max_length(folder: Path, default: int = 128) -> int:
    """``max_length`` of the training run that wrote ``folder`` (a folder inside ``runs/<name>/``,
    whose ``config.json`` is the run config: it has a ``role``), so evaluation truncates like
    training did; else ``default``."""
    run_config = folder.parent / "config.json"
    if run_config.is_file():
        config = json.loads(run_config.read_text(encoding="utf-8"))
        value = config.get("max_length")
        if "role" in config and isinstance(value, int) and value > 0:
            return value
    return default


class TorchPredictor(_HfFolder):
    """Hugging Face PyTorch fp32 classifier with length-sorted dynamic padding."""

    kind = "pytorch"

    def __init__(
        self,
        folder: str | Path,
        threads: int = 2,
        batch_size: int = 32,
        max_length: int | None = None,
    ):
        super().__init__(folder, threads)
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.folder, dtype="float32"
        ).eval()
        self.batch_size = max(1, batch_size)
        self.max_length = max_length or training_max_length(self.folder)
        self.name = f"{run_name(self.folder)} (PyTorch fp32)"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.empty((len(texts), len(LABELS)), dtype=np.float32)
        if not texts:
            return out
        lengths = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        order = np.argsort([len(ids) for ids in lengths["input_ids"]], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self.model(**batch).logits
                out[idx] = torch.softmax(logits.float(), dim=-1).numpy()
        return out[:, self.columns]


class PipelinePredictor(_HfFolder):
    """``transformers.pipeline("text-classification")`` on CPU: the plain-user baseline."""

    kind = "pipeline"

    def __init__(self, folder: str | Path, threads: int = 2, batch_size: int = 32):
        super().__init__(folder, threads)
        from transformers import pipeline

        self.pipe = pipeline(
            "text-classification",
            model=str(self.folder),
            top_k=None,
            batch_size=max(1, batch_size),
            device=-1,
        )
        self.labels = config_labels(self.folder)
        self.name = f"{run_name(self.folder)} (transformers pipeline)"
        self.max_length = training_max_length(self.folder, default=512)  # as the ONNX package

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        rows = self.pipe(list(texts), truncation=True, max_length=self.max_length)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for row, scores in enumerate(rows):
            for item in scores:
                out[row, self.labels.index(item["label"])] = item["score"]
        return out[:, self.columns]


def detect_kind(path: str | Path) -> str:
    """``onnx`` for a package / ONNX export, ``pytorch`` for a Hugging Face folder."""
    root = resolve_model(path)
    if (root / METADATA_FILE).is_file() or (root / "model.onnx").is_file():
        return "onnx"
    if any((root / name).is_file() for name in TORCH_WEIGHTS):
        return "pytorch"
    raise TriageError(
        f"{root}: not a model package, ONNX export or Hugging Face folder "
        "(expected triage.json, model.onnx or model.safetensors)"
    )


def load_predictor(
    path: str | Path, kind: str | None = None, threads: int = 2, batch_size: int = 32
) -> Predictor:
    """Open ``path`` as the given kind (``None``: detect onnx vs pytorch from the files)."""
    kind = kind or detect_kind(path)
    if kind == "onnx":
        return OnnxPredictor(path, threads=threads)  # the runtime picks its own sub-batches
    if kind == "pytorch":
        return TorchPredictor(path, threads=threads, batch_size=batch_size)
    if kind == "pipeline":
        return PipelinePredictor(path, threads=threads, batch_size=batch_size)
    raise TriageError(f"unknown predictor kind {kind!r}: use one of {', '.join(KINDS)}")
