"""Dynamic int8 quantisation of an exported ONNX classifier (optimum's ORTQuantizer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


def quantize_dynamic_int8(
    onnx_path: str | Path,
    out_path: str | Path,
    per_channel: bool = True,
    quantize_embeddings: bool = True,
) -> Path:
    """Weights int8, activations quantised on the fly: MatMul (+ Gather, i.e. the embedding
    tables, unless ``quantize_embeddings`` is False; per-channel MatMul weights by default).

    Uses ``optimum.onnxruntime.ORTQuantizer`` with the AVX2 dynamic preset (runs on any x86-64
    with AVX2; VNNI/AVX-512 CPUs execute the same graph faster), else onnxruntime's
    ``quantize_dynamic`` directly.
    """
    import tempfile

    onnx_path, out_path = Path(onnx_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoQuantizationConfig

        quantizer = ORTQuantizer.from_pretrained(onnx_path.parent, file_name=onnx_path.name)
        config = AutoQuantizationConfig.avx2(
            is_static=False,
            per_channel=per_channel,
            operators_to_quantize=None if quantize_embeddings else ["MatMul"],
        )
        with tempfile.TemporaryDirectory() as tmp:
            quantizer.quantize(save_dir=tmp, quantization_config=config)
            produced = next(Path(tmp).glob("*.onnx"))
            shutil.move(str(produced), out_path)
    except ImportError:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(onnx_path),
            str(out_path),
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=None if quantize_embeddings else ["MatMul"],
        )
    return out_path


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows whose argmax label agrees between two logit/probability arrays."""
    if len(a) == 0:
        return 1.0
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean())


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max()) if len(a) else 0.0
