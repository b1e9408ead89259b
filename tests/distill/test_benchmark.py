"""Benchmark and predictors with tiny settings: every predictor kind runs and agrees."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from distill.benchmark import Spec, add_ratios, benchmark_texts, merge_rounds, run_benchmark
from distill.predictors import load_predictor
from models.errors import TriageError

TEXTS = [
    "We need water and food at the shelter on 5th street, please send help",
    "Volunteers with boats available to evacuate families, DM us",
    "Praying for everyone affected by the hurricane tonight",
    "Bridge on highway 2 collapsed",
] * 2


@pytest.fixture(scope="module")
def tiny_hf_folder(tiny_model, tmp_path_factory):
    """The tiny package's weights as a Hugging Face PyTorch folder (same seed, same config)."""
    import torch
    from transformers import AutoConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("hf") / "tiny-random-hf"
    config = AutoConfig.from_pretrained(tiny_model)
    torch.manual_seed(0)  # build_random_package's seed: identical random weights
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (tiny_model / name).is_file():
            shutil.copy(tiny_model / name, folder / name)
    return folder


def test_three_predictor_kinds_agree(tiny_model, tiny_hf_folder):
    onnx = load_predictor(tiny_model).predict_proba(TEXTS)
    torch_probs = load_predictor(tiny_hf_folder).predict_proba(TEXTS)
    pipe = load_predictor(tiny_hf_folder, kind="pipeline").predict_proba(TEXTS)
    assert onnx.shape == (len(TEXTS), 4)
    np.testing.assert_allclose(onnx.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(torch_probs, onnx, atol=1e-4)
    np.testing.assert_allclose(pipe, onnx, atol=1e-4)


def test_benchmark_gives_positive_throughput_for_each_kind(tiny_model, tiny_hf_folder):
    specs = [
        Spec(str(tiny_model), "onnx", "student"),
        Spec(str(tiny_hf_folder), "pytorch", "teacher"),
        Spec(str(tiny_hf_folder), "pipeline", "baseline"),
    ]
    result = run_benchmark(
        specs, TEXTS, batch_sizes=(1, 4), repeats=2, isolate=False, progress=False, command="test"
    )
    assert [row["kind"] for row in result["rows"]] == ["onnx", "pytorch", "pipeline"]
    for row in result["rows"]:
        assert set(row["posts_per_s"]) == {"1", "4"}
        assert all(v > 0 for v in row["posts_per_s"].values())
        assert row["model_bytes"] > 0 and row["peak_rss_mb"] > 0
        assert len(row["pass_seconds"]["4"]) == 2
    teacher = result["rows"][1]
    assert teacher["x_teacher"] == {"1": 1.0, "4": 1.0}
    assert result["rows"][2]["x_pipeline"]["4"] == 1.0


def test_benchmark_isolates_each_model_in_a_child_process(tiny_model):
    result = run_benchmark(
        [Spec(str(tiny_model), "onnx", "student")],
        TEXTS,
        batch_sizes=(8,),
        repeats=1,
        progress=False,
    )
    (row,) = result["rows"]
    assert row["posts_per_s"]["8"] > 0 and row["name"].startswith("tiny-random@0.0.1")


def test_ratios_against_teacher_and_pipeline():
    rows = [
        {"role": "teacher", "kind": "pytorch", "posts_per_s": {"32": 10.0}},
        {"role": "baseline", "kind": "pipeline", "posts_per_s": {"32": 100.0}},
        {"role": "student", "kind": "onnx", "posts_per_s": {"32": 400.0}},
    ]
    add_ratios(rows)
    assert rows[2]["x_teacher"] == {"32": 40.0} and rows[2]["x_pipeline"] == {"32": 4.0}


def test_rounds_take_medians_of_speeds_and_of_per_round_ratios():
    def rounds(pipeline: float, student: float) -> list[dict]:
        rows = [
            {"role": "baseline", "kind": "pipeline", "posts_per_s": {"32": pipeline}},
            {"role": "student", "kind": "onnx", "posts_per_s": {"32": student}},
        ]
        for row in rows:
            row.update(load_s=1.0, peak_rss_mb=student, pass_seconds={"32": [0.1]})
        add_ratios(rows)
        return rows

    # a slow spell in round 2 halves both: the per-round ratios stay 3, 3, 2
    merged = merge_rounds([rounds(100, 300), rounds(50, 150), rounds(100, 200)])
    student = merged[1]
    assert student["posts_per_s"] == {"32": 200}
    assert student["x_pipeline"] == {"32": 3.0}  # not 200 / 100
    assert student["round_posts_per_s"] == {"32": [300, 150, 200]}
    assert student["pass_seconds"]["32"] == [0.1, 0.1, 0.1] and student["peak_rss_mb"] == 300


def test_benchmark_runs_models_in_rounds(tiny_model):
    result = run_benchmark(
        [Spec(str(tiny_model), "onnx", "student")],
        TEXTS,
        batch_sizes=(4,),
        repeats=1,
        rounds=2,
        isolate=False,
        progress=False,
    )
    (row,) = result["rows"]
    assert result["rounds"] == 2 and len(row["round_posts_per_s"]["4"]) == 2
    assert len(row["pass_seconds"]["4"]) == 2


def test_benchmark_texts_are_real_test_tweets(shared_data):
    texts = benchmark_texts(shared_data, 16)
    assert len(texts) == 16 and len(set(texts)) == 16
    assert texts == benchmark_texts(shared_data, 16)  # seeded
    with pytest.raises(TriageError):
        benchmark_texts(shared_data, 10**6)


def test_unknown_folder_is_a_triage_error(tmp_path):
    with pytest.raises(TriageError, match="not a model package"):
        load_predictor(tmp_path)


def test_benchmark_command_writes_json(tiny_model, shared_data, tmp_path, capsys):
    import argparse
    import json

    from distill.eval_cli import register

    parser = argparse.ArgumentParser(prog="triage distill")
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "speed.json"
    args = parser.parse_args(
        [
            "benchmark",
            "--models",
            str(tiny_model),
            "--data-dir",
            str(shared_data),
            "--posts",
            "8",
            "--repeats",
            "1",
            "--batch-sizes",
            "8",
            "--json",
            str(out),
            "--no-publish",
            "--no-teacher",
            "--no-pipeline",
        ]
    )
    assert args.func(args) == 0
    saved = json.loads(out.read_text())
    assert saved["posts"] == 8 and saved["rows"][0]["posts_per_s"]["8"] > 0
    assert "posts/s b=8" in capsys.readouterr().out


def test_max_length_follows_the_training_run(tmp_path):
    import json

    from distill.predictors import training_max_length

    model = tmp_path / "teacher" / "model"
    model.mkdir(parents=True)
    assert training_max_length(model) == 128
    (model.parent / "config.json").write_text(json.dumps({"role": "teacher", "max_length": 64}))
    assert training_max_length(model) == 64
    (model.parent / "config.json").write_text(json.dumps({"max_length": 32}))  # an HF config
    assert training_max_length(model) == 128
