"""Model repository: version folders, newest valid version, live swap, refusing broken versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from models.errors import ModelPackageError
from models.package import write_metadata
from models.repository import (
    LiveModel,
    ModelRepository,
    is_repository,
    next_version,
    version_key,
)
from models.runtime import RuntimeOptions

OPTIONS = RuntimeOptions(intra_op_threads=1)
TEXTS = ["need water and food at the shelter", "sending love to everyone in houston"]


def add_version(repo: Path, source: Path, version: str, **meta_changes) -> Path:
    """Copy a package into ``repo/<version>`` with changed metadata and fresh checksums."""
    folder = shutil.copytree(source, repo / version)
    meta = json.loads((folder / "triage.json").read_text())
    meta.pop("files")
    meta.update(version=version, **meta_changes)
    write_metadata(folder, meta)
    return folder


def test_version_names() -> None:
    assert version_key("12") == (12,)
    assert version_key("1.5.0") == (1, 5, 0)
    assert version_key(".staging-3") is None and version_key("latest") is None


def test_next_version_and_repository_detection(tiny_model: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert next_version(repo) == "1"
    add_version(repo, tiny_model, "9")
    add_version(repo, tiny_model, "10")
    assert next_version(repo) == "11"  # numeric order, not text order
    assert is_repository(repo) and not is_repository(tiny_model)


def test_a_single_package_is_served_as_it_is(tiny_model: Path) -> None:
    model = LiveModel(ModelRepository(tiny_model), OPTIONS, poll_s=0)
    assert model.package.path == tiny_model
    assert not model.check_for_update()


def test_serves_the_newest_valid_version_and_swaps_model_and_thresholds_together(
    tiny_model: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    add_version(repo, tiny_model, "1", thresholds={})
    swaps = []
    model = LiveModel(
        ModelRepository(repo), OPTIONS, poll_s=0, on_swap=lambda old, new: swaps.append(new)
    )
    before = model.predict(TEXTS)
    assert {p.version for p in before} == {"1"}
    assert all(p.review_reason is None for p in before)
    # a half-written version under a non-version name is ignored
    shutil.copytree(tiny_model, repo / ".staging-2")
    assert not model.check_for_update()
    # version 2: same graph, thresholds no prediction can reach → every post to review
    add_version(repo, tiny_model, "2", thresholds=dict.fromkeys(model.package.labels, 1.01))
    assert model.check_for_update()
    after = model.predict(TEXTS)
    assert {p.version for p in after} == {"2"}
    assert all(p.review_reason == "low_confidence" for p in after)
    assert [s.version for s in swaps] == ["2"]


def test_a_broken_version_is_refused_once_and_the_old_one_keeps_serving(
    tiny_model: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    add_version(repo, tiny_model, "1")
    refused = []
    model = LiveModel(ModelRepository(repo), OPTIONS, poll_s=0, on_refused=refused.append)
    broken = add_version(repo, tiny_model, "2")
    with (broken / "model.onnx").open("ab") as handle:
        handle.write(b"\0")  # checksum no longer matches
    missing = add_version(repo, tiny_model, "3")
    (missing / "tokenizer.json").unlink()
    assert not model.check_for_update()
    assert not model.check_for_update()  # refused versions are not re-tried every poll
    assert sorted(r.path.name for r in refused) == ["2", "3"]
    assert "checksum mismatch" in next(r.reason for r in refused if r.path.name == "2")
    assert "tokenizer.json is missing" in next(r.reason for r in refused if r.path.name == "3")
    assert {p.version for p in model.predict(TEXTS)} == {"1"}
    add_version(repo, tiny_model, "4")
    assert model.check_for_update() and model.package.version == "4"


def test_a_repository_without_a_valid_version_is_one_error(
    tiny_model: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    broken = add_version(repo, tiny_model, "1")
    (broken / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelPackageError, match="no valid version in model repository") as info:
        LiveModel(ModelRepository(repo), OPTIONS, poll_s=0)
    assert "\n" not in str(info.value)


def test_the_poller_swaps_without_being_asked(tiny_model: Path, tmp_path: Path) -> None:
    import time

    repo = tmp_path / "repo"
    add_version(repo, tiny_model, "1")
    model = LiveModel(ModelRepository(repo), OPTIONS, poll_s=0.1)
    try:
        add_version(repo, tiny_model, "2")
        deadline = time.monotonic() + 20
        while model.package.version != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.package.version == "2"
    finally:
        model.close()
