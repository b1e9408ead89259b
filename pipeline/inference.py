"""The job's model handler: the ONNX handler, timed and swapped into Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult

from models.handler import OnnxTextClassifierHandler
from models.package import ModelPackage
from models.repository import DEFAULT_POLL_S, LiveModel, Refusal
from models.runtime import RuntimeOptions
from pipeline import metrics


def publish_model_info(package: ModelPackage) -> None:
    """Set the ``triage_model_info`` metric to the package being served."""
    metrics.MODEL_INFO.info(
        {"name": package.name, "version": package.version, "path": str(package.path)}
    )


class MeteredHandler(OnnxTextClassifierHandler):
    """Records every model call's batch size and latency, the model's identity and its swaps."""

    def load_model(self) -> LiveModel:
        model = super().load_model()
        publish_model_info(model.package)
        return model

    def on_swap(self, old: ModelPackage, new: ModelPackage) -> None:
        metrics.MODEL_SWAPS.labels(outcome="swapped").inc()
        publish_model_info(new)

    def on_refused(self, refusal: Refusal) -> None:
        metrics.MODEL_SWAPS.labels(outcome="refused").inc()

    def run_inference(
        self,
        batch: Sequence[str],
        model: LiveModel,
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
    poll_s: float = DEFAULT_POLL_S,
) -> tuple[KeyedModelHandler, ModelPackage]:
    """A keyed handler (key = the post) over the metered ONNX handler, and its launch package.

    The package (or a repository's newest valid version) is verified, loaded and run once
    here, at launch: a bad path, checksum or graph is one line before any Kafka traffic.
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
        poll_s=poll_s,
    )
    return KeyedModelHandler(handler), handler.package
