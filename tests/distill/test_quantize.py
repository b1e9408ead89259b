"""Dynamic int8 quantisation: a smaller graph with integer ops that agrees with fp32."""

from __future__ import annotations

import onnx

from distill.export import export_folder
from distill.package_model import write_package
from distill.quantize import (
    QuantizeOptions,
    agreement,
    ffn_output_matmuls,
    fuse_transformer,
    max_abs_diff,
    quantize_dynamic_int8,
    split_skip_layer_norms,
)
from distill.release import onnx_logits


def test_int8_agrees_with_fp32(tmp_path, shared_data, random_bert):
    import polars as pl

    texts = (
        pl.read_csv(shared_data / "humaid_maria" / "humaid_maria.csv", infer_schema_length=0)
        .sample(n=200, seed=3)["text"]
        .to_list()
    )
    hf = random_bert(tmp_path / "hf", hidden=128, layers=2)
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    int8_file = quantize_dynamic_int8(fp32_file, tmp_path / "int8" / "model.onnx")
    ops = {node.op_type for node in onnx.load(int8_file).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "QAttention"} <= ops  # fused, then int8
    assert {"LayerNormalization", "BiasGelu"} <= ops
    assert "SkipLayerNormalization" not in ops  # split again (faster kernels on CPU)
    assert int8_file.stat().st_size < 0.4 * fp32_file.stat().st_size
    meta = {"name": "q", "version": "0", "max_length": 64}
    fp32 = onnx_logits(write_package(tmp_path / "p32", fp32_file, hf, meta), texts)
    int8 = onnx_logits(write_package(tmp_path / "p8", int8_file, hf, meta), texts)
    spread = float(fp32.max() - fp32.min())
    assert max_abs_diff(fp32, int8) < 0.05 * spread
    assert agreement(fp32, int8) >= 0.99


def test_embeddings_can_stay_fp32(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", hidden=32, layers=1)
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    options = QuantizeOptions(quantize_embeddings=False)
    out = quantize_dynamic_int8(fp32_file, tmp_path / "q" / "model.onnx", options)
    graph = onnx.load(out).graph
    assert "MatMulInteger" in {node.op_type for node in graph.node}
    gathers = [n for n in graph.node if n.op_type == "Gather" and "word_embeddings" in n.input[0]]
    assert gathers  # the embedding lookup reads the fp32 table directly
    tables = {t.name: t.data_type for t in graph.initializer}
    assert tables[gathers[0].input[0]] == onnx.TensorProto.FLOAT


def test_unfused_graph_keeps_plain_attention(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", hidden=32, layers=1)
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    options = QuantizeOptions(fuse=False, per_channel=False)
    ops = {
        n.op_type
        for n in onnx.load(
            quantize_dynamic_int8(fp32_file, tmp_path / "q" / "m.onnx", options)
        ).graph.node
    }
    assert "MatMulInteger" in ops and "QAttention" not in ops
    assert "per-tensor" in options.describe() and "fused" not in options.describe()


def test_feed_forward_outputs_can_stay_fp32(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", hidden=32, layers=3)
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    fallbacks = ffn_output_matmuls(fp32_file)
    assert [name.split("/")[3] for name in fallbacks] == ["layer.0", "layer.1"]  # not the last
    options = QuantizeOptions(fp32_nodes=(fallbacks[0],))
    graph = onnx.load(quantize_dynamic_int8(fp32_file, tmp_path / "q" / "m.onnx", options)).graph
    plain = {n.name for n in graph.node if n.op_type == "MatMul"}
    assert fallbacks[0] in plain and fallbacks[1] not in plain
    assert "feed-forward output of layers 0 kept fp32" in options.describe()


def test_a_fused_graph_is_quantised_without_fusing_again(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", hidden=32, layers=2)  # the last is [CLS]-only
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    fused = fuse_transformer(fp32_file, tmp_path / "fused")
    assert "Attention" in {n.op_type for n in onnx.load(str(fused)).graph.node}
    out = quantize_dynamic_int8(fused, tmp_path / "q" / "m.onnx")
    assert "QAttention" in {n.op_type for n in onnx.load(str(out)).graph.node}


def test_splitting_skip_layer_norms_keeps_the_logits(tmp_path, random_bert):
    import shutil

    import numpy as np
    import onnxruntime as ort

    hf = random_bert(tmp_path / "hf", hidden=32, layers=2)
    fp32_file, _ = export_folder(hf, tmp_path / "onnx")
    fused = fuse_transformer(fp32_file, tmp_path / "fused")
    split = tmp_path / "split.onnx"
    shutil.copy(fused, split)
    n_fused = sum(n.op_type == "SkipLayerNormalization" for n in onnx.load(str(fused)).graph.node)
    assert n_fused >= 2 and split_skip_layer_norms(split) == n_fused
    ops = [n.op_type for n in onnx.load(str(split)).graph.node]
    assert "SkipLayerNormalization" not in ops
    rng = np.random.default_rng(0)
    feeds = {
        "input_ids": rng.integers(5, 90, size=(3, 11)),
        "attention_mask": np.array([[1] * 11, [1] * 7 + [0] * 4, [1] * 3 + [0] * 8]),
    }
    outputs = []
    for path in (fused, split):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        run_feeds = {k: v for k, v in feeds.items() if k in names}
        if "token_type_ids" in names:
            run_feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        outputs.append(session.run(None, run_feeds)[0])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def test_agreement_and_diff_helpers():
    import numpy as np

    a = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    b = np.array([[0.9, 0.1], [1.0, 0.0], [2.0, 1.5]])
    assert agreement(a, b) == 2 / 3
    assert max_abs_diff(a, b) == 1.0
    assert agreement(a[:0], b[:0]) == 1.0
