"""Rebuild a trainable PyTorch model from a shipped package's (int8, fused) ONNX graph.

A package ships ONNX only, yet ``triage learn`` fine-tunes *that* model. Every weight of a BERT
classifier is in the graph: embeddings, LayerNorms and biases as named fp32 initializers,
Linear weights as (per-channel) int8 ``MatMulInteger`` / ``QAttention`` weights with their
scales and zero points, or as fp32 ``MatMul`` weights. Names come from the exporter's module
scopes (``/bert/encoder/layer.0/attention/output/dense/MatMul_quant`` →
``bert.encoder.layer.0.attention.output.dense.weight``); fused attention packs query, key and
value of one layer (in layer order) into one matrix. The [CLS]-only last layer
(``distill.cls_head``) has its own scope names, mapped back here.

Int8 weights dequantize to fp32 exactly as ONNX Runtime computes with them, so the rebuilt
model reproduces the package's predictions up to activation quantisation:
:func:`rebuild_torch_model` checks label agreement on probe texts and refuses a rebuild below
``min_agreement``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from models.errors import TriageError

_CLS_LAYER_SCOPES = {  # scope inside ClsQueryLayer → BertLayer parameter path
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "output.dense": "attention.output.dense",
    "output.dense_1": "output.dense",
    "intermediate.dense": "intermediate.dense",
}


def _initializers(graph) -> dict[str, np.ndarray]:  # noqa: ANN001 - onnx GraphProto
    from onnx import numpy_helper

    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def _dequantized(name: str, inits: dict[str, np.ndarray]) -> np.ndarray:
    """An int8/uint8 initializer ``X_quantized`` as fp32, with ``X_scale``/``X_zero_point``."""
    base = name[: -len("_quantized")] if name.endswith("_quantized") else name
    values = inits[name]
    if not np.issubdtype(values.dtype, np.integer):
        return values.astype(np.float32)
    scale = inits[f"{base}_scale"].astype(np.float32)
    zero = inits[f"{base}_zero_point"].astype(np.float32)
    return (values.astype(np.float32) - zero) * scale


def _module_path(node_name: str, last_layer: int, cls_only: bool) -> str:
    """``/bert/encoder/layer.1/output/dense_1/MatMul_quant`` → the BERT parameter path."""
    scope = node_name.strip("/").rsplit("/", 1)[0].replace("/", ".")
    prefix = f"bert.encoder.layer.{last_layer}."
    if cls_only and scope.startswith(prefix):
        inner = scope[len(prefix) :]
        if inner in _CLS_LAYER_SCOPES:
            scope = prefix + _CLS_LAYER_SCOPES[inner]
    return scope


def onnx_state_dict(onnx_path: str | Path, num_layers: int) -> dict[str, np.ndarray]:
    """PyTorch-named fp32 weights of a BERT ``*ForSequenceClassification`` ONNX graph."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    inits = _initializers(graph)
    for node in graph.node:  # exporters alias equal tensors (fresh LayerNorms, zero biases)
        if node.op_type == "Identity" and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
    last = num_layers - 1
    last_attention = f"/bert/encoder/layer.{last}/attention/"
    cls_only = not any(node.name.startswith(last_attention) for node in graph.node)
    state: dict[str, np.ndarray] = {}
    cls_inner = re.compile(rf"^bert\.encoder\.layer\.{last}\.layer\.")
    for name in inits:
        if name.endswith(("_scale", "_zero_point")) or "/" in name or name.startswith("onnx::"):
            continue
        clean = cls_inner.sub(f"bert.encoder.layer.{last}.", name)
        if clean.endswith("_quantized"):  # e.g. quantized word embeddings
            clean = clean[: -len("_quantized")]
        if clean.startswith(("bert.", "classifier.")) and "Transposed" not in clean:
            state[clean] = _dequantized(name, inits)
    attention_layer = 0
    for node in graph.node:
        if node.op_type == "QAttention" or node.op_type == "Attention":
            weight = _dequantized(node.input[1], inits)  # [hidden, 3 * hidden]
            bias = inits[node.input[2]].astype(np.float32)
            prefix = f"bert.encoder.layer.{attention_layer}.attention.self."
            for part, w, b in zip(
                ("query", "key", "value"),
                np.split(weight, 3, axis=1),
                np.split(bias, 3),
                strict=True,
            ):
                state[f"{prefix}{part}.weight"] = w.T.copy()
                state[f"{prefix}{part}.bias"] = b
            attention_layer += 1
        elif node.op_type in ("MatMulInteger", "MatMul") and node.input[1] in inits:
            path = _module_path(node.name.removesuffix("_quant"), last, cls_only)
            if path.endswith((".Gemm_MatMul", ".Gemm")):
                path = path.rsplit(".", 1)[0]
            state[f"{path}.weight"] = _dequantized(node.input[1], inits).T.copy()
    return state


def rebuild_torch_model(package_dir: str | Path, probe_texts: list[str], min_agreement=0.97):  # noqa: ANN201
    """A ``BertForSequenceClassification`` with the package's weights, checked against it.

    Returns (model, agreement) where agreement is the share of ``probe_texts`` on which the
    rebuilt fp32 model and the package's ONNX graph pick the same label (see
    :func:`probe_agreement`). Raises TriageError
    when a weight is missing or the agreement is below ``min_agreement``.
    """
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from models.package import ModelPackage
    from models.runtime import OnnxClassifier, RuntimeOptions

    package = ModelPackage.load(package_dir)
    config = AutoConfig.from_pretrained(package.path)
    if config.model_type != "bert":
        raise TriageError(
            f"{package.path}: rebuilding from ONNX supports BERT packages, not {config.model_type}"
        )
    model = AutoModelForSequenceClassification.from_config(config).eval()
    weights = onnx_state_dict(package.model_file, config.num_hidden_layers)
    expected = {k for k in model.state_dict() if not k.endswith("position_ids")}
    missing = sorted(expected - set(weights))
    if missing:
        raise TriageError(
            f"{package.model_file}: cannot rebuild {len(missing)} weight(s) from the ONNX graph "
            f"(first: {missing[0]}); fine-tune from the training run's checkpoint instead"
        )
    tensors = {k: torch.from_numpy(np.ascontiguousarray(weights[k])) for k in expected}
    model.load_state_dict(tensors, strict=False)
    agreement = probe_agreement(model, OnnxClassifier(package, RuntimeOptions()), probe_texts)
    if agreement < min_agreement:
        raise TriageError(
            f"{package.path}: the model rebuilt from ONNX agrees with the package on only "
            f"{agreement:.1%} of {len(probe_texts)} probe posts (< {min_agreement:.0%})"
        )
    return model, agreement


MIN_MARGIN = 0.05  # posts the package itself calls within 5 points are not a parity test


def probe_agreement(model, classifier, texts: list[str]) -> float:  # noqa: ANN001
    """Share of ``texts`` where the torch model and the ONNX classifier agree on the label,
    among the posts the package is not torn on (top-2 margin ≥ ``MIN_MARGIN``): int8 activation
    quantisation legitimately flips near-ties."""
    import torch
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(classifier.package.tokenizer_file))
    tokenizer.pad_token = tokenizer.pad_token or "[PAD]"
    cleaned = [classifier.preprocess(t) for t in texts]
    onnx_probs = classifier.predict_proba(texts)
    onnx_labels = onnx_probs.argmax(axis=1)
    top2 = np.sort(onnx_probs, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) >= MIN_MARGIN
    torch_labels = []
    with torch.no_grad():
        for start in range(0, len(cleaned), 32):
            enc = tokenizer(
                cleaned[start : start + 32],
                padding=True,
                truncation=True,
                max_length=classifier.package.max_length,
                return_tensors="pt",
            )
            enc.pop("token_type_ids", None)
            torch_labels.extend(model(**enc).logits.argmax(dim=1).tolist())
    same = np.asarray(torch_labels) == onnx_labels
    return float(same[clear].mean()) if clear.any() else float(same.mean())
