"""Model package loading: checksums verified, clear errors for missing or altered files."""

from __future__ import annotations

import json
import shutil

import pytest

from models.errors import ModelPackageError
from models.package import ModelPackage
from models.runtime import OnnxClassifier


def test_load_reads_metadata(tiny_model):
    package = ModelPackage.load(tiny_model)
    assert package.labels == ("request", "offer", "emotional_support", "other")
    assert package.model_id == "tiny-random@0.0.1"


def test_review_floors_are_read_and_optional(tiny_model, tmp_path):
    assert ModelPackage.load(tiny_model).review_floors == {}
    copy = shutil.copytree(tiny_model, tmp_path / "pkg")
    meta = json.loads((copy / "triage.json").read_text())
    meta["review_floors"] = {"request": 0.07}
    (copy / "triage.json").write_text(json.dumps(meta))
    package = ModelPackage.load(copy)
    assert package.review_floors == {"request": 0.07}
    assert "review_floors" not in package.extra


def test_corrupt_graph_with_regenerated_checksums_is_one_error(tiny_model, tmp_path):
    from models.package import write_metadata
    from models.repository import load_checked
    from models.runtime import RuntimeOptions

    copy = shutil.copytree(tiny_model, tmp_path / "pkg")
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes()[:5000])
    meta = json.loads((copy / "triage.json").read_text())
    meta.pop("files")
    write_metadata(copy, meta)
    with pytest.raises(ModelPackageError, match="cannot load .*model.onnx") as info:
        load_checked(copy, RuntimeOptions(intra_op_threads=1))
    assert "\n" not in str(info.value)


def test_altered_file_is_refused(tiny_model, tmp_path):
    copy = shutil.copytree(tiny_model, tmp_path / "pkg")
    with (copy / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelPackageError, match="checksum mismatch for model.onnx"):
        ModelPackage.load(copy)


def test_missing_file_is_refused(tiny_model, tmp_path):
    copy = shutil.copytree(tiny_model, tmp_path / "pkg")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ModelPackageError, match="tokenizer.json is missing"):
        ModelPackage.load(copy)


def test_not_a_package(tmp_path):
    with pytest.raises(ModelPackageError, match="does not exist"):
        ModelPackage.load(tmp_path / "nope")
    with pytest.raises(ModelPackageError, match="triage.json is missing"):
        ModelPackage.load(tmp_path)


def test_metadata_without_checksum_for_model_is_refused(tiny_model, tmp_path):
    copy = shutil.copytree(tiny_model, tmp_path / "pkg")
    meta = json.loads((copy / "triage.json").read_text())
    del meta["files"]["model.onnx"]
    (copy / "triage.json").write_text(json.dumps(meta))
    with pytest.raises(ModelPackageError, match="no checksum for model.onnx"):
        ModelPackage.load(copy)


def test_bucketed_padding_matches_one_by_one(tiny_model):
    """Sorting and per-sub-batch padding must not change any post's logits."""
    from models.runtime import RuntimeOptions

    texts = ["help", "we need water and food at the shelter on 5th street now please", "ok"] * 5
    batched = OnnxClassifier.from_path(tiny_model, RuntimeOptions(sub_batch_size=4)).logits(texts)
    single = OnnxClassifier.from_path(tiny_model, RuntimeOptions(sub_batch_size=1))
    for i, text in enumerate(texts):
        assert abs(single.logits([text])[0] - batched[i]).max() < 1e-4


def test_predictions_are_probabilities(tiny_model):
    preds = OnnxClassifier.from_path(tiny_model).predict(["Praying for everyone in Puerto Rico"])
    assert abs(sum(preds[0].probabilities.values()) - 1.0) < 1e-4
    assert preds[0].label in preds[0].probabilities
    assert preds[0].as_dict()["model"] == {"name": "tiny-random", "version": "0.0.1"}
