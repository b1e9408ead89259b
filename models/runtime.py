"""ONNX Runtime text classifier with length-aware dynamic padding.

Texts first go through the package's preprocessing (``models.preprocess``, the same
function training used). The tokenizer is the package's ``tokenizer.json`` loaded by Hugging
Face ``tokenizers`` (the Rust fast tokenizer, without importing transformers). A batch is
tokenized once, sorted by token length, cut into sub-batches of at most ``sub_batch_size`` and each
sub-batch is padded only to its own longest post, so short tweets never pay for a long one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.decision import decide
from models.errors import ModelPackageError, TriageError, first_line
from models.package import ModelPackage, resolve_model
from models.preprocess import PREPROCESSORS

# Posts per session.run: on 2 AVX2 cores, caller batches of 32 ran fastest cut into
# length-sorted runs of 8 (less padding, cache-sized activations; benchmarks/RESULTS.md).
SUB_BATCH_SIZE = 8


@dataclass(frozen=True)
class Prediction:
    """One post's classification, and whether it needs review (``models.decision``)."""

    label: str
    probabilities: dict[str, float]
    model: str  # name@version
    review_reason: str | None = None

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    @property
    def version(self) -> str:
        return self.model.partition("@")[2]

    def as_dict(self) -> dict:
        name, _, version = self.model.partition("@")
        out = {
            "label": self.label,
            "probabilities": self.probabilities,
            "model": {"name": name, "version": version},
        }
        if self.review_reason is not None:
            out["review_reason"] = self.review_reason
        return out


@dataclass(frozen=True)
class RuntimeOptions:
    """ONNX Runtime knobs: threads, execution provider, posts per ``session.run``."""

    intra_op_threads: int = 0  # 0 = ONNX Runtime's default (all cores)
    inter_op_threads: int = 1
    device: str = "cpu"  # "cpu" or "cuda" (falls back to CPU with a warning if unavailable)
    sub_batch_size: int = SUB_BATCH_SIZE  # posts per ONNX Runtime call (see module docstring)

    def providers(self) -> list[str]:
        import onnxruntime as ort

        if self.device == "cpu":
            return ["CPUExecutionProvider"]
        if self.device == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise TriageError(
                    "--device cuda: this onnxruntime has no CUDAExecutionProvider "
                    "(pip install onnxruntime-gpu on a machine with CUDA, or use --device cpu)"
                )
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        raise TriageError(f"unknown device {self.device!r}: use cpu or cuda")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits.astype(np.float64) / max(temperature, 1e-6)
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


class OnnxClassifier:
    """Loads a :class:`ModelPackage` into an ONNX Runtime session and classifies texts."""

    def __init__(self, package: ModelPackage, options: RuntimeOptions | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.package = package
        self.options = options or RuntimeOptions()
        session_options = ort.SessionOptions()  # not picklable: built here, in the worker
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.intra_op_num_threads = self.options.intra_op_threads
        session_options.inter_op_num_threads = self.options.inter_op_threads
        try:
            self.session = ort.InferenceSession(
                str(package.model_file), session_options, providers=self.options.providers()
            )
        except TriageError:
            raise
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelPackageError(
                f"cannot load {package.model_file}: {first_line(exc)} "
                "(re-export or re-copy the model)"
            ) from exc
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = Tokenizer.from_file(str(package.tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=package.max_length)
        self.pad_id = self._pad_id()
        self.labels = list(package.labels)
        preprocessing = str(package.extra.get("preprocessing", "none"))
        if preprocessing not in PREPROCESSORS:
            raise ModelPackageError(
                f"{package.path}: unknown preprocessing {preprocessing!r} in triage.json "
                f"(this runtime knows: {', '.join(sorted(PREPROCESSORS))}); upgrade crisis-triage"
            )
        self.preprocess = PREPROCESSORS[preprocessing]

    @classmethod
    def from_path(
        cls, path: str | Path | None = None, options: RuntimeOptions | None = None
    ) -> OnnxClassifier:
        """Load a package folder (or a shipped model's name, or the default when None)."""
        return cls(ModelPackage.load(resolve_model(path)), options)

    @property
    def model_id(self) -> str:
        return self.package.model_id

    def _pad_id(self) -> int:
        for token in ("[PAD]", "<pad>"):
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                return int(token_id)
        return 0

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Token count of each text after truncation (for length bucketing)."""
        cleaned = [self.preprocess(t) for t in texts]
        return [len(e.ids) for e in self.tokenizer.encode_batch(cleaned)]

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits ``[len(texts), n_labels]`` in input order."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([self.preprocess(t) for t in texts])
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        step = max(1, self.options.sub_batch_size)
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            out[idx] = self._run([encodings[i] for i in idx])
        return out

    def _run(self, encodings: list) -> np.ndarray:
        width = max(1, max(len(e.ids) for e in encodings))
        input_ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        attention = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            input_ids[row, :n] = enc.ids
            attention[row, :n] = 1
        feeds = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        return self.session.run(None, feeds)[0]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (temperature-scaled softmax) in input order."""
        return softmax(self.logits(texts), self.package.temperature)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, probabilities and review decision per text, all from this one package."""
        package = self.package
        decided = decide(
            self.labels, self.predict_proba(texts), package.thresholds, package.review_floors
        )
        return [Prediction(label, probs, package.model_id, why) for label, probs, why in decided]

    def self_test(self) -> None:
        """Classify one post; ModelPackageError (one line) when the graph fails or its output
        is unusable. Checksums prove the files are the ones written, not that they work."""
        try:
            probabilities = self.predict_proba(["need drinking water at the shelter"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises untyped errors
            raise ModelPackageError(
                f"{self.package.model_file} fails to run: {first_line(exc)}"
            ) from exc
        if probabilities.shape != (1, len(self.labels)) or not np.isfinite(probabilities).all():
            raise ModelPackageError(
                f"{self.package.model_file} gives unusable output {probabilities.tolist()} "
                f"(expected {len(self.labels)} finite probabilities): re-export the model"
            )


def default_threads() -> int:
    """Threads for ONNX Runtime: ``TRIAGE_THREADS`` or every core."""
    return int(os.environ.get("TRIAGE_THREADS", "0"))
