"""The job's model handler: the project's ONNX handler, timed into Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult

from models.errors import ModelPackageError, first_line
from models.handler import OnnxTextClassifierHandler
from models.package import ModelPackage
from models.runtime import OnnxClassifier, RuntimeOptions
from pipeline import metrics


def publish_model_info(package: ModelPackage) -> None:
    """Set the ``triage_model_info`` metric to the package being served."""
    metrics.MODEL_INFO.info(
        {"name": package.name, "version": package.version, "path": str(package.path)}
    )


class MeteredHandler(OnnxTextClassifierHandler):
    """Records every model call's batch size and latency; publishes the model's identity."""

    def load_model(self) -> OnnxClassifier:
        model = super().load_model()
        publish_model_info(model.package)
        return model

    def run_inference(
        self,
        batch: Sequence[str],
        model: OnnxClassifier,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        start = time.perf_counter()
        results = super().run_inference(batch, model, inference_args)
        metrics.INFERENCE_LATENCY.observe(time.perf_counter() - start)
        metrics.INFERENCE_BATCH_SIZE.observe(len(batch))
        return results


def build_model_handler(
    model: str | None,
    *,
    batch_size: int,
    min_batch_size: int | None = None,
    threads: int = 0,
    device: str = "cpu",
    max_batch_wait_s: int | None = None,
) -> tuple[KeyedModelHandler, ModelPackage]:
    """A keyed handler (key = the post) over the metered ONNX handler, and its package.

    ``max_batch_wait_s`` (``max_batch_duration_secs``) turns on stateful batching across
    bundles, whose timers fire only when the source ends on FnApiRunner: leave it None there,
    batches then form within a bundle.
    """
    runtime = RuntimeOptions(intra_op_threads=threads, device=device)
    runtime.providers()  # a bad --device fails here, at launch, not in a worker
    handler = MeteredHandler(
        model,
        runtime=runtime,
        min_batch_size=min(min_batch_size or batch_size, batch_size),
        max_batch_size=batch_size,
        max_batch_duration_secs=max_batch_wait_s,
    )
    check_model_runs(handler.package, runtime)
    return KeyedModelHandler(handler), handler.package


def check_model_runs(package: ModelPackage, runtime: RuntimeOptions) -> None:
    """Load the package into ONNX Runtime once and classify one post, at launch.

    Checksums prove the files are the ones written, not that they work: a corrupt graph whose
    checksums were regenerated would otherwise fail in a worker, with a traceback, on every
    restart. Raises ModelPackageError (one line) instead.
    """
    import numpy as np

    classifier = OnnxClassifier(package, runtime)
    try:
        probabilities = classifier.predict_proba(["need drinking water at the shelter"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises untyped errors
        raise ModelPackageError(f"{package.model_file} fails to run: {first_line(exc)}") from exc
    if probabilities.shape != (1, len(package.labels)) or not np.isfinite(probabilities).all():
        raise ModelPackageError(
            f"{package.model_file} gives unusable output {probabilities.tolist()} "
            f"(expected {len(package.labels)} finite probabilities): re-export the model"
        )
