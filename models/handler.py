"""Beam RunInference ModelHandler over :class:`models.runtime.OnnxClassifier`.

Examples are post texts (``str``); wrap it in Beam's ``KeyedModelHandler`` to carry the
post alongside. Each ``PredictionResult.inference`` is a :class:`models.runtime.Prediction`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from models.package import ModelPackage, resolve_model
from models.runtime import OnnxClassifier, RuntimeOptions


class OnnxTextClassifierHandler(ModelHandler[str, PredictionResult, OnnxClassifier]):
    """Loads a crisis model package once per worker and classifies batches of texts."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        runtime: RuntimeOptions | None = None,
        min_batch_size: int = 1,
        max_batch_size: int = 64,
        max_batch_duration_secs: int | None = None,
        verify_checksums: bool = True,
    ):
        super().__init__(
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
            max_batch_duration_secs=max_batch_duration_secs,
        )
        self._model_path = str(resolve_model(model_path))
        self._runtime = runtime or RuntimeOptions()
        self._verify = verify_checksums
        # Fail fast at construction (launch time), not in a worker: a bad path or checksum
        # is a clear error before the job starts.
        self._package = ModelPackage.load(self._model_path, verify=verify_checksums)

    @property
    def package(self) -> ModelPackage:
        return self._package

    def load_model(self) -> OnnxClassifier:
        package = ModelPackage.load(self._model_path, verify=self._verify)
        return OnnxClassifier(package, self._runtime)

    def run_inference(
        self,
        batch: Sequence[str],
        model: OnnxClassifier,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        predictions = model.predict(list(batch))
        return [
            PredictionResult(example=text, inference=pred, model_id=model.model_id)
            for text, pred in zip(batch, predictions, strict=True)
        ]

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(t.encode("utf-8")) for t in batch)

    def get_metrics_namespace(self) -> str:
        return "crisis_triage"

    def update_model_path(self, model_path: str | None = None) -> None:
        """Hot-swap support (RunInference side input): point at a new package folder."""
        if model_path:
            self._model_path = str(resolve_model(model_path))
            self._package = ModelPackage.load(self._model_path, verify=self._verify)
