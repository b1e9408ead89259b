"""CPU graph: fuse the transformer (optimum ``ORTOptimizer``), then dynamic int8 (``ORTQuantizer``).

Fusing first turns each layer's Q/K/V MatMuls + softmax into one ``Attention`` op, Add +
LayerNorm into ``SkipLayerNormalization`` and Add + Gelu into ``BiasGelu``; quantising the fused
graph then gives int8 ``QAttention`` and ``DynamicQuantizeMatMul`` kernels. On the 2-core AVX2 box
this was roughly 10% faster than quantising the unfused export (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FUSED_ONNX = "model_optimized.onnx"
FFN_OUTPUT = re.compile(r"/encoder/layer\.(\d+)/output/dense/MatMul$")


@dataclass(frozen=True)
class QuantizeOptions:
    """How a student's fp32 ONNX export becomes the shipped int8 graph."""

    fuse: bool = True  # optimum ORTOptimizer (level 2) before quantising
    per_channel: bool = True  # one scale per output column of each weight
    quantize_embeddings: bool = True  # False: embedding tables stay fp32
    fp32_nodes: tuple[str, ...] = ()  # MatMuls left in fp32 (see ffn_output_matmuls)
    split_skip_layer_norm: bool = True  # SkipLayerNormalization → Add + LayerNormalization

    def describe(self) -> str:
        """One line for the package metadata and the model card."""
        parts = (
            ["fused attention/LayerNorm/GELU (optimum ORTOptimizer level 2)"] if self.fuse else []
        )
        parts.append(
            "dynamic int8 (optimum ORTQuantizer, avx2 preset, "
            + ("per-channel" if self.per_channel else "per-tensor")
            + " MatMul/Attention weights"
        )
        embeddings = "int8 embeddings" if self.quantize_embeddings else "embeddings kept fp32"
        layers = [m.group(1) for n in self.fp32_nodes if (m := FFN_OUTPUT.search(n))]
        kept = f", feed-forward output of layers {', '.join(layers)} kept fp32" if layers else ""
        split = (
            "; SkipLayerNormalization split into Add + LayerNormalization"
            if self.fuse and self.split_skip_layer_norm
            else ""
        )
        return "; ".join(parts) + f", {embeddings}{kept}){split}"


def fuse_transformer(onnx_path: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/model_optimized.onnx``: the export with ONNX Runtime's transformer fusions
    (optimum ``ORTOptimizer``, level 2, exact GELU, embeddings left unfused so they can still be
    quantised), with symbolic shapes inferred so the quantiser knows the fused ops' types."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    optimizer = ORTOptimizer.from_pretrained(onnx_path.parent, file_names=[onnx_path.name])
    config = OptimizationConfig(
        optimization_level=2,
        enable_gelu_approximation=False,
        disable_embed_layer_norm_fusion=True,
    )
    optimizer.optimize(save_dir=out_dir, optimization_config=config)
    fused = out_dir / f"{onnx_path.stem}_optimized.onnx"
    model = SymbolicShapeInference.infer_shapes(onnx.load(str(fused)), auto_merge=True)
    onnx.save(model, str(out_dir / FUSED_ONNX))
    if fused.name != FUSED_ONNX:
        fused.unlink()
    return out_dir / FUSED_ONNX


def split_skip_layer_norms(onnx_path: str | Path) -> int:
    """Rewrite every ``SkipLayerNormalization`` of the graph as ``Add`` (+ bias ``Add``) and a
    standard ``LayerNormalization``, in place; returns how many were rewritten.

    The math is the same. On the 2-core AVX2 box ONNX Runtime's CPU ``SkipLayerNormalization``
    kernel ran ~7× slower per element than its ``LayerNormalization`` kernel (profiled on
    ``[8, 41, 384]`` inputs), so the fused op cost more than it saved (benchmarks/RESULTS.md).
    """
    import onnx
    from onnx import helper

    model = onnx.load(str(onnx_path))
    nodes, rewritten = [], 0
    for node in model.graph.node:
        if node.op_type != "SkipLayerNormalization":
            nodes.append(node)
            continue
        if any(name for name in node.output[1:3]):
            raise ValueError(f"{node.name}: mean/inv-std outputs are used; cannot split it")
        rewritten += 1
        value, skip, gamma, beta = node.input[:4]
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = f"{node.name}/residual"
        nodes.append(helper.make_node("Add", [value, skip], [total], name=f"{node.name}/add"))
        if len(node.input) > 4 and node.input[4]:  # the fused bias of the preceding MatMul
            biased = f"{node.name}/residual_bias"
            nodes.append(
                helper.make_node("Add", [total, node.input[4]], [biased], name=f"{node.name}/bias")
            )
            total = biased
        nodes.append(
            helper.make_node(
                "LayerNormalization",
                [total, gamma, beta],
                [node.output[0]],
                name=f"{node.name}/layer_norm",
                axis=-1,
                epsilon=epsilon,
            )
        )
        if len(node.output) > 3 and node.output[3]:  # the sum, reused by the next residual
            nodes.append(
                helper.make_node("Identity", [total], [node.output[3]], name=f"{node.name}/sum")
            )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(onnx_path))
    return rewritten


def ffn_output_matmuls(onnx_path: str | Path) -> list[str]:
    """Names of the feed-forward output MatMuls (GELU activations in, hence the widest int8
    activation ranges), bottom layer first; the last layer is left out (with the [CLS]-only
    export it sees one row per post)."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    found = {int(m.group(1)): n.name for n in graph.node if (m := FFN_OUTPUT.search(n.name))}
    return [found[i] for i in sorted(found)[:-1]]


def quantize_dynamic_int8(
    onnx_path: str | Path,
    out_path: str | Path,
    options: QuantizeOptions = QuantizeOptions(),
) -> Path:
    """Weights int8, activations quantised on the fly (MatMul, fused Attention and, unless
    ``quantize_embeddings`` is off, the embedding Gathers) → ``out_path``. An input already
    produced by :func:`fuse_transformer` is not fused again.

    Uses optimum's ``ORTQuantizer`` with the AVX2 dynamic preset: it runs on any x86-64 with
    AVX2; VNNI/AVX-512 CPUs execute the same graph faster.
    """
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    onnx_path, out_path = Path(onnx_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    operators = ["MatMul", "Attention"] + (["Gather"] if options.quantize_embeddings else [])
    with tempfile.TemporaryDirectory() as tmp:
        source = onnx_path
        if options.fuse and onnx_path.name != FUSED_ONNX:  # not fused yet
            source = fuse_transformer(onnx_path, Path(tmp) / "fused")
        config = AutoQuantizationConfig.avx2(
            is_static=False,
            per_channel=options.per_channel,
            operators_to_quantize=operators,
            nodes_to_exclude=list(options.fp32_nodes),
        )
        quantizer = ORTQuantizer.from_pretrained(source.parent, file_name=source.name)
        quantizer.quantize(save_dir=Path(tmp) / "int8", quantization_config=config)
        produced = next((Path(tmp) / "int8").glob("*.onnx"))
        shutil.move(str(produced), out_path)
    if options.split_skip_layer_norm:
        split_skip_layer_norms(out_path)
    return out_path


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows whose argmax label agrees between two logit/probability arrays."""
    if len(a) == 0:
        return 1.0
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean())


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max()) if len(a) else 0.0
