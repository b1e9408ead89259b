"""`triage learn`: the gate, rebuilding weights from ONNX, and one whole learning step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from distill.learn import LearnOptions, gate, learn, new_version, split_holdout
from models.package import LABELS, ModelPackage
from pipeline.feedback import LabelledPost

WORDS = {
    "request": "please we need urgent water food help trapped",
    "offer": "donate volunteers free shelter available sending supplies",
    "emotional_support": "prayers thoughts love hearts with you",
    "other": "weather update news report photos video",
}


def _text(label: str, i: int) -> str:
    words = WORDS[label].split()
    rng = np.random.default_rng(i)
    return " ".join(rng.choice(words, size=6)) + f" post{i}"


def _one_hot(labels: list[str], right: float) -> np.ndarray:
    out = np.full((len(labels), len(LABELS)), (1 - right) / 3)
    for row, label in enumerate(labels):
        out[row, LABELS.index(label)] = right
    return out


def test_the_gate_needs_a_held_out_gain_and_no_standing_loss() -> None:
    gold = ["request", "other", "offer", "request"]
    base = _one_hot(["other", "other", "offer", "other"], 0.7)
    better = _one_hot(["request", "other", "offer", "other"], 0.7)
    ships = gate(base, better, gold, {"humaid_test": (0.60, 0.595)}, max_loss=0.01)
    assert ships.ships and ships.holdout["accuracy"] == {"base": 0.5, "new": 0.75}
    lost = gate(base, better, gold, {"humaid_test": (0.60, 0.58)}, max_loss=0.01)
    assert not lost.ships and any("loses" in r for r in lost.reasons)
    same = gate(base, base, gold, {}, max_loss=0.01)
    assert not same.ships and "no gain" in same.reasons[0]


def test_held_out_labels_cover_every_label_with_two_or_more_posts() -> None:
    posts = [LabelledPost(f"p{i}", "t", LABELS[i % 3], "confirmed", None, "") for i in range(20)]
    train, held = split_holdout(posts, 0.2, seed=1)
    assert len(train) + len(held) == 20 and not {p.post_id for p in train} & {
        p.post_id for p in held
    }
    assert {p.label for p in held} == set(LABELS[:3])


def test_weights_rebuilt_from_onnx_reproduce_the_package(tiny_model: Path) -> None:
    from distill.from_onnx import rebuild_torch_model

    texts = [_text(label, i) for i in range(40) for label in LABELS]
    _, agreement = rebuild_torch_model(tiny_model, texts)
    assert agreement >= 0.97


def _prepared(root: Path) -> Path:
    """A small prepared-data folder in `triage distill prepare`'s layout (self-written rows)."""
    from distill.splits import TASKS

    rows = [(_text(label, i), label) for i in range(60) for label in LABELS]
    frame = pl.DataFrame(rows, schema=["text", "target"], orient="row")
    (root / "test").mkdir(parents=True)
    frame.write_parquet(root / "train.parquet")
    frame.head(80).write_parquet(root / "dev.parquet")
    frame.head(0).write_parquet(root / "transfer.parquet")
    (root / "manifest.json").write_text(json.dumps({"created": "test"}))
    for name, task in TASKS.items():
        gold = frame["target"].to_list()[:40]
        if task != "4way":
            positive = ("request", "offer") if task == "actionable" else LABELS[:3]
            gold = [task if g in positive else f"not_{task}" for g in gold]
        test = pl.DataFrame({"text": frame["text"][:40], "gold": gold, "task": [task] * 40})
        test.write_parquet(root / "test" / f"{name}.parquet")
    return root


def test_one_learning_step_publishes_a_gated_version(tiny_model: Path, tmp_path: Path) -> None:
    from models.repository import LiveModel, ModelRepository

    posts = [
        LabelledPost(f"f{i}", _text(label, 1000 + i), label, "misclassified", None, "")
        for i in range(30)
        for label in LABELS
    ]
    repo = tmp_path / "repo"
    options = LearnOptions(
        min_labels=20, replay_rows=80, epochs=3, lr=2e-3, batch_size=16, dev_rows=80, threads=1
    )
    result = learn(
        tiny_model, posts, {}, _prepared(tmp_path / "data"), tmp_path / "work", options, repo
    )
    package = ModelPackage.load(result.package)
    learning = package.extra["learning"]
    assert learning["labels"] == 120 and learning["held_out"] == 24
    assert set(learning["verdict"]["standing"]) == {
        "humaid_test",
        "volunteers_heldout_4way",
        "volunteers_heldout_actionable",
        "crisislext26_heldout",
        "crisisnlp_cf_heldout",
        "crisislext6_informative",
        "kaggle_informative",
    }
    assert "Gate:" in (result.package / "README.md").read_text()
    held = learning["verdict"]["holdout"]["accuracy"]
    assert result.verdict.ships, result.verdict.reasons  # keyword posts: a random model learns
    assert held["new"] > held["base"]
    assert result.published == repo / package.version == repo / "0.0.2"
    served = LiveModel(ModelRepository(repo), poll_s=0).package
    assert served.version == "0.0.2" and served.extra["learning"]["base"] == "tiny-random@0.0.1"
    assert (repo / "0.0.1" / "triage.json").is_file()  # the base, as the first version


def test_too_few_labels_is_one_readable_error(tiny_model: Path, tmp_path: Path) -> None:
    from models.errors import TriageError

    posts = [LabelledPost("a", "need water", "request", "confirmed", None, "")]
    with pytest.raises(TriageError, match="only 1 usable label"):
        learn(tiny_model, posts, {}, tmp_path, tmp_path / "w", LearnOptions(min_labels=50))


def test_the_new_version_sorts_above_the_base_in_the_repository(
    tiny_model: Path, tmp_path: Path
) -> None:
    from models.repository import version_key

    base = ModelPackage.load(tiny_model)
    empty = tmp_path / "empty-repo"
    empty.mkdir()  # an existing, empty repository: the base goes in first
    version = new_version(base, empty)
    assert (empty / base.version).is_dir()
    assert version_key(version) > version_key(base.version)
    assert new_version(base, None) != base.version
