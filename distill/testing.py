"""Tiny random model packages for tests (like optimum's tiny random models).

Builds a 2-layer, hidden-32 BERT classifier with random weights and MiniLM's real
tokenizer, exports it to ONNX and writes a verified package. Seconds, not minutes; its
predictions are meaningless but every code path (tokenizer, padding, ONNX Runtime,
checksums, routing) is real.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from models.package import LABELS, write_metadata

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def build_random_package(
    out_dir: str | Path,
    *,
    name: str = "tiny-random",
    version: str = "0.0.1",
    seed: int = 0,
    thresholds: dict[str, float] | None = None,
    max_length: int = 64,
) -> Path:
    """Write a tiny random-weight model package to ``out_dir`` and return its path."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from distill.base_models import minilm_path
    from distill.export import export_onnx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = BertForSequenceClassification(config).eval()
    export_onnx(model, out / "model.onnx")
    config.save_pretrained(out)
    base = minilm_path()
    for file_name in TOKENIZER_FILES:
        if (base / file_name).is_file():
            shutil.copy(base / file_name, out / file_name)
    write_metadata(
        out,
        {
            "name": name,
            "version": version,
            "labels": list(LABELS),
            "max_length": max_length,
            "temperature": 1.0,
            "thresholds": thresholds or {label: 0.0 for label in LABELS},
            "description": "random weights, for tests only",
        },
    )
    return out
