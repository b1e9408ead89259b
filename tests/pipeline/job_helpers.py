"""Helpers for the job tests: a decisive tiny model, output readers, post factories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from models.package import METADATA_FILE, write_metadata


def _rewrite_classifier(out_dir: Path, scale: float, bias: Any) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(out_dir / "model.onnx"))
    for init in model.graph.initializer:
        if init.name == "classifier.weight":
            weights = numpy_helper.to_array(init) * scale
            init.CopyFrom(numpy_helper.from_array(weights.astype("float32"), init.name))
        if init.name == "classifier.bias" and bias is not None:
            init.CopyFrom(numpy_helper.from_array(bias.astype("float32"), init.name))
    onnx.save(model, str(out_dir / "model.onnx"))


def _write_meta(out_dir: Path, thresholds: dict[str, float]) -> None:
    meta = json.loads((out_dir / METADATA_FILE).read_text(encoding="utf-8"))
    meta["thresholds"] = thresholds
    meta.pop("files", None)
    write_metadata(out_dir, meta)


def decisive_copy(
    tiny_model: Path,
    out_dir: Path,
    thresholds: dict[str, float],
    calibration_texts: list[str],
    scale: float = 3000.0,
) -> Path:
    """Copy a random tiny package, made to spread its predictions over all four labels.

    A random BERT gives nearly equal logits (every post is 'other' at p≈0.25). Here the real
    ONNX classifier head is rewritten: weights × ``scale`` and a bias that cancels the mean
    logits over ``calibration_texts``, so predictions vary by text, with varied confidence,
    and routing and thresholds are exercised for real. Checksums are rewritten.
    """
    from models.runtime import OnnxClassifier

    shutil.copytree(tiny_model, out_dir)
    _rewrite_classifier(out_dir, scale, None)
    _write_meta(out_dir, thresholds)
    mean_logits = OnnxClassifier.from_path(out_dir).logits(calibration_texts).mean(axis=0)
    _rewrite_classifier(out_dir, 1.0, -mean_logits)
    _write_meta(out_dir, thresholds)
    return out_dir


def read_topic(settings: Any, topic: str) -> list[Any]:
    """Every record of ``topic`` (all partitions, from the beginning), with kafka-python."""
    from kafka import KafkaConsumer, TopicPartition

    from pipeline.kafka.offsets import read_from_beginning

    consumer = KafkaConsumer(**settings.kafka_python_kwargs(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return []
        return read_from_beginning(consumer, parts)
    finally:
        consumer.close()
