"""A 2-step distillation through the CLI produces a loadable, calibrated package; it resumes."""

from __future__ import annotations

import json

import pytest

from distill.testing import build_random_package
from models.package import LABELS, ModelPackage
from models.runtime import OnnxClassifier
from pipeline.cli import main


@pytest.mark.slow
def test_tiny_distillation_run_ships_a_package(tmp_path, prepared_data, capsys):
    runs, models = tmp_path / "runs", tmp_path / "models"
    build_random_package(runs / "teacher" / "package", name="teacher")
    config = tmp_path / "e2e-student.json"
    config.write_text(
        json.dumps(
            {
                "name": "e2e-student",
                "role": "student",
                "layers": [0],
                "max_length": 32,
                "batch_size": 8,
                "max_steps": 2,
                "per_class": {label: 8 for label in [*LABELS, "actionable"]},
                "transfer_rows": 16,
                "augment_rows": 8,
                "checkpoint_every": 1,
            }
        ),
        "utf-8",
    )
    common = ["--config", str(config), "--runs", str(runs), "--prepared", str(prepared_data)]
    assert main(["distill", "distil", *common]) == 0
    assert (runs / "e2e-student" / "checkpoint.pt").is_file()
    assert list((runs / "teacher" / "logits").glob("*/*.npz"))  # cached teacher logits

    # resume: one more step on top of the checkpoint, teacher logits from the cache
    assert main(["distill", "distil", *common, "--max-steps", "3"]) == 0
    log = (runs / "e2e-student" / "log.txt").read_text("utf-8")
    assert "resumed from" in log and "at step 2/3" in log
    assert "e2e-student: 8 augmented copies" in log
    assert "teacher logits: 64 cached, 0 to compute" in log

    args = ["distill", "export", *common, "--ship", "--default", "--models-dir", str(models)]
    assert main(args) == 0
    package = ModelPackage.load(models / "e2e-student")
    assert (models / "DEFAULT").read_text("utf-8").strip() == "e2e-student"
    assert package.labels == LABELS and package.temperature > 0
    assert set(package.thresholds) == set(LABELS)
    parity = package.extra["parity"]
    assert parity["onnx_fp32_vs_torch_max_abs_logit_diff"] < 1e-4
    assert 0.0 <= parity["int8_vs_fp32_label_agreement_dev"] <= 1.0
    assert package.extra["training_config"]["max_steps"] == 3
    # the crises it learnt from are recorded (the random teacher has no record: none held out)
    manifest = json.loads((prepared_data / "manifest.json").read_text("utf-8"))
    data = package.extra["data"]
    assert set(data["events"]) >= set(manifest["training_events"]) and data["loco_events"] == []
    card = (package.path / "README.md").read_text("utf-8")
    assert "<!-- EVAL -->" in card and "<!-- SPEED -->" in card
    assert "+ 8 word-replaced copies of those posts" in card
    predictions = OnnxClassifier(package).predict(["we need water", "praying for you"])
    assert [p.label in LABELS for p in predictions] == [True, True]

    # a smaller student cut from the trained one ("base": "run:<name>"), as Tiny is from Small
    cut = tmp_path / "e2e-cut.json"
    spec = json.loads(config.read_text("utf-8"))
    cut.write_text(json.dumps({**spec, "name": "e2e-cut", "base": "run:e2e-student"}), "utf-8")
    cut_args = ["--config", str(cut), "--runs", str(runs), "--prepared", str(prepared_data)]
    assert main(["distill", "distil", *cut_args, "--max-steps", "1"]) == 0
    assert main(["distill", "export", *cut_args, "--ship", "--models-dir", str(models)]) == 0
    card = (models / "e2e-cut" / "README.md").read_text("utf-8")
    assert "initialised from the trained `e2e-student` student" in card
    assert (
        "triage distill distil --config e2e-student\ntriage distill distil --config e2e-cut" in card
    )


def test_a_run_base_must_be_trained_first(tmp_path):
    from distill.teacher import base_path
    from models.errors import TriageError

    with pytest.raises(TriageError, match="run `triage distill distil --config triage-small`"):
        base_path("run:triage-small", runs=tmp_path)
    with pytest.raises(TriageError, match="unknown base"):
        base_path("bert-large")
    (tmp_path / "small" / "model").mkdir(parents=True)
    (tmp_path / "small" / "model" / "config.json").write_text("{}", "utf-8")
    assert base_path("run:small", runs=tmp_path) == tmp_path / "small" / "model"


def test_prepare_cli_prints_sizes_per_label(tmp_path, shared_data, capsys):
    out = tmp_path / "data"
    args = ["distill", "prepare", "--data-dir", str(shared_data), "--out", str(out)]
    assert main([*args, "--test-cap", "200"]) == 0
    printed = capsys.readouterr().out
    assert "humaid_test" in printed and "request" in printed and "train" in printed
    assert (out / "manifest.json").is_file()


def test_raising_caps_only_adds_rows(prepared_data):
    from distill.config import TrainConfig
    from distill.distil import distill_rows
    from distill.splits import load_prepared

    data = load_prepared(prepared_data)
    small = TrainConfig(name="a", role="student", per_class={"other": 50}, transfer_rows=20)
    large = TrainConfig(name="b", role="student", per_class={"other": 80}, transfer_rows=30)
    a, b = distill_rows(data, small), distill_rows(data, large)
    assert set(a["text"]) < set(b["text"])
    assert a.filter(a["target"] == "other").height == 50
