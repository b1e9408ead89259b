"""ONNX export parity (tiny random model) and the pruned-vocabulary student."""

from __future__ import annotations

import numpy as np

from distill.config import TrainConfig
from distill.export import export_folder
from distill.package_model import refresh_checksums, write_package
from distill.quantize import max_abs_diff
from distill.release import onnx_logits
from distill.student import build_student
from distill.teacher import torch_logits
from models.package import LABELS, ModelPackage

TEXTS = [
    "We urgently need water and food in Utuado http",
    "Volunteers are handing out blankets at the shelter tonight",
    "Praying for everyone in Puerto Rico",
    "Power lines down on highway 2",
    "ok",
    "A much longer post " * 20,
]


def test_onnx_export_matches_pytorch(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf")
    onnx_file, exporter = export_folder(hf, tmp_path / "onnx")
    assert exporter == "optimum.exporters.onnx (last layer [CLS]-only)"
    package = write_package(
        tmp_path / "pkg", onnx_file, hf, {"name": "t", "version": "0", "max_length": 64}
    )
    loaded = ModelPackage.load(package)
    assert loaded.labels == LABELS and loaded.extra["preprocessing"]
    diff = max_abs_diff(torch_logits(hf, TEXTS, 64), onnx_logits(package, TEXTS))
    assert diff < 1e-4


def test_cls_only_last_layer_is_exact_and_smaller(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", layers=2)
    full_file, exporter = export_folder(hf, tmp_path / "full", cls_only=False)
    cls_file, _ = export_folder(hf, tmp_path / "cls")
    assert exporter == "optimum.exporters.onnx"
    meta = {"name": "t", "version": "0", "max_length": 64}
    full = onnx_logits(write_package(tmp_path / "p_full", full_file, hf, meta), TEXTS)
    cls = onnx_logits(write_package(tmp_path / "p_cls", cls_file, hf, meta), TEXTS)
    assert max_abs_diff(full, cls) < 1e-5
    assert max_abs_diff(torch_logits(hf, TEXTS, 64), cls) < 1e-4

    assert last_ffn_rows(full_file) == "sequence_length"  # every token goes through the last FFN
    assert last_ffn_rows(cls_file) == 1  # only [CLS] does


def last_ffn_rows(path) -> int | str:
    """Second dimension of the last layer's feed-forward input (symbolic shape inference)."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    model = SymbolicShapeInference.infer_shapes(onnx.load(str(path)), auto_merge=True)
    ffn = [n for n in model.graph.node if "intermediate/dense/MatMul" in n.name][-1]
    shapes = {v.name: v.type.tensor_type.shape for v in model.graph.value_info}
    dim = shapes[ffn.output[0]].dim[1]
    return dim.dim_value if dim.HasField("dim_value") else dim.dim_param


def test_refresh_checksums_after_readme_edit(tmp_path, random_bert):
    hf = random_bert(tmp_path / "hf", hidden=32)
    onnx_file, _ = export_folder(hf, tmp_path / "onnx")
    package = write_package(
        tmp_path / "pkg", onnx_file, hf, {"name": "t", "version": "0"}, "# card\n"
    )
    (package / "README.md").write_text("# card\n\nfilled in\n", "utf-8")
    refresh_checksums(package)
    assert ModelPackage.load(package).name == "t"


def test_pruned_vocabulary_student_segments_like_the_base(tmp_path):
    from transformers import AutoTokenizer

    from distill.base_models import minilm_path

    corpus = [t for t in TEXTS for _ in range(2)]
    cfg = TrainConfig(name="tiny", role="student", layers=[0, 2], prune_vocab=True)
    model, tokenizer = build_student(cfg, corpus, tmp_path / "init")
    base = AutoTokenizer.from_pretrained(minilm_path())
    assert model.config.num_hidden_layers == 2
    assert tokenizer.vocab_size < 2000
    assert model.config.vocab_size == len(tokenizer) == tokenizer.vocab_size
    for text in TEXTS:
        assert base.tokenize(text) == tokenizer.tokenize(text)
    unseen = tokenizer.tokenize("zanzibar quokka")
    assert "[UNK]" not in unseen and "".join(unseen).replace("##", "") == "zanzibarquokka"
    # each kept token keeps its base embedding row
    from transformers import AutoModel

    base_emb = AutoModel.from_pretrained(minilm_path()).embeddings.word_embeddings.weight
    new_emb = model.bert.embeddings.word_embeddings.weight
    for token in ("water", "shelter", "[CLS]"):
        np.testing.assert_array_equal(
            new_emb[tokenizer.convert_tokens_to_ids(token)].detach().numpy(),
            base_emb[base.convert_tokens_to_ids(token)].detach().numpy(),
        )
