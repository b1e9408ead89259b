"""Fixtures for the distill tests: prepared splits built once from ../shared/data."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from models.package import LABELS

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


@pytest.fixture(scope="session")
def prepared_data(shared_data, tmp_path_factory) -> Path:
    """``triage distill prepare`` output (test sets capped at 300 rows) in a temp folder."""
    from distill.config import DataConfig
    from distill.splits import prepare

    out = tmp_path_factory.mktemp("prepared")
    prepare(shared_data, out, DataConfig(test_cap=300))
    return out


def write_source_csvs(root: Path, sources: Mapping[str, Sequence[tuple[str, ...]]]) -> Path:
    """Write ``root/<source>/<source>.csv`` from self-written rows ``(text, label, event,
    split[, lang])`` in the shared data's column layout; returns ``root``."""
    for name, rows in sources.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        header = ["text", "label", "dataset", "event", "split"]
        if rows and len(rows[0]) == 5:
            header.append("lang")
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for text, label, event, split, *lang in rows:
                writer.writerow([text, label, name, event, split, *lang])
    return root


@pytest.fixture
def source_csvs(tmp_path) -> Callable[[Mapping[str, Sequence[tuple[str, ...]]]], Path]:
    """Factory: ``source_csvs({"humaid": [(text, label, event, split), ...]})`` → data folder."""
    return lambda sources: write_source_csvs(tmp_path / "data", sources)


def random_bert_folder(
    out: Path, hidden: int = 64, layers: int = 2, seed: int = 0, init_range: float = 0.05
) -> Path:
    """A random BERT sequence classifier with MiniLM's tokenizer, saved to ``out``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from distill.base_models import minilm_path

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        initializer_range=init_range,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    BertForSequenceClassification(config).eval().save_pretrained(out)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_path() / name, out / name)
    return out


@pytest.fixture
def random_bert():
    """Factory: ``random_bert(out_dir, hidden=64, layers=2)`` → saved HF classifier folder."""
    return random_bert_folder
