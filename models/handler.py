"""Beam RunInference ModelHandler over a :class:`models.repository.LiveModel`.

Examples are post texts (``str``); wrap it in Beam's ``KeyedModelHandler`` to carry the
post alongside. Each ``PredictionResult.inference`` is a :class:`models.runtime.Prediction`
(label, probabilities, review decision and the version that made them). ``model_path`` is a
package or a model repository; with a repository the worker's model swaps itself to newer
versions every ``poll_s`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from models.package import ModelPackage
from models.repository import DEFAULT_POLL_S, LiveModel, ModelRepository, Refusal
from models.runtime import RuntimeOptions


class OnnxTextClassifierHandler(ModelHandler[str, PredictionResult, LiveModel]):
    """Loads a crisis model (package or repository) once per worker and classifies batches."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        runtime: RuntimeOptions | None = None,
        min_batch_size: int = 1,
        max_batch_size: int = 64,
        max_batch_duration_secs: int | None = None,
        poll_s: float = DEFAULT_POLL_S,
    ):
        super().__init__(
            min_batch_size=min_batch_size,
            max_batch_size=max_batch_size,
            max_batch_duration_secs=max_batch_duration_secs,
        )
        repository = ModelRepository(model_path)
        self._model_path = str(repository.path)
        self._runtime = runtime or RuntimeOptions()
        self._poll_s = poll_s
        # Fail fast at construction (launch time), not in a worker: a bad path, checksum or
        # graph is a clear error before the job starts.
        launch = LiveModel(repository, self._runtime, poll_s=0)
        self._package = launch.package

    @property
    def package(self) -> ModelPackage:
        """The package served at launch (the newest valid version of a repository)."""
        return self._package

    def load_model(self) -> LiveModel:
        return LiveModel(
            ModelRepository(self._model_path),
            self._runtime,
            poll_s=self._poll_s,
            on_swap=self.on_swap,
            on_refused=self.on_refused,
        )

    def on_swap(self, old: ModelPackage, new: ModelPackage) -> None:
        """Called in the worker after a newer version took over (override to observe)."""

    def on_refused(self, refusal: Refusal) -> None:
        """Called in the worker when a version is refused (override to observe)."""

    def run_inference(
        self,
        batch: Sequence[str],
        model: LiveModel,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        predictions = model.predict(list(batch))  # one version for the whole batch
        return [
            PredictionResult(example=text, inference=pred, model_id=pred.model)
            for text, pred in zip(batch, predictions, strict=True)
        ]

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(t.encode("utf-8")) for t in batch)

    def get_metrics_namespace(self) -> str:
        return "crisis_triage"
