"""Training-data scope: recorded by runs and packages, read back, and used to refuse folds."""

from __future__ import annotations

import json

import pytest

from distill.scope import (
    LEGACY,
    DataScope,
    fold_refusal,
    model_scope,
    scope_from_manifest,
    write_run_scope,
)
from models.errors import TriageError

NEW = DataScope(
    events=frozenset({"canada_wildfires_2016"}),
    loco_events=frozenset({"kerala_floods_2018"}),
    sources=("humaid",),
)


def _package(folder, data=None):
    folder.mkdir(parents=True)
    meta = {"name": "m", "version": "1", "labels": [], "files": {}}
    if data is not None:
        meta["data"] = data
    (folder / "triage.json").write_text(json.dumps(meta), "utf-8")
    return folder


def test_package_with_events_reads_them(tmp_path):
    package = _package(tmp_path / "pkg", {"manifest_created": "x", **NEW.as_dict()})
    assert model_scope(package) == NEW


def test_package_from_before_the_record_is_legacy(tmp_path):
    package = _package(tmp_path / "old", {"manifest_created": "x", "splits": {}})
    assert model_scope(package) == LEGACY


def test_run_folder_scope_and_unknown_models(tmp_path):
    run = tmp_path / "runs" / "teacher"
    (run / "model").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"role": "teacher"}), "utf-8")
    assert model_scope(run / "model") == LEGACY  # a run trained before runs recorded scopes
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    manifest = {"training_events": ["canada_wildfires_2016"], "sources": ["humaid"]}
    manifest["loco"] = {"events": ["kerala_floods_2018"], "folds": {}}
    (prepared / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert write_run_scope(run, prepared) == NEW
    assert model_scope(run / "model") == NEW
    with pytest.raises(TriageError, match="cannot tell which crises"):
        model_scope(_package(tmp_path / "bare"))
    # a student of an unrecorded teacher counts no crisis as held out
    student = write_run_scope(tmp_path / "runs" / "student", prepared, tmp_path / "bare")
    assert student.loco_events == frozenset() and student.legacy


def test_a_student_inherits_its_teachers_crises(tmp_path):
    teacher = NEW.merged(DataScope(events=frozenset({"hurricane_irma_2017"})))
    assert teacher.events == {"canada_wildfires_2016", "hurricane_irma_2017"}
    assert teacher.loco_events == frozenset()  # held out only if both held it out
    assert NEW.merged(LEGACY).legacy and NEW.merged(LEGACY).loco_events == NEW.loco_events
    assert scope_from_manifest({"splits": {}}) == LEGACY


def test_folds_are_refused_for_crises_a_model_saw(monkeypatch):
    monkeypatch.setattr("distill.scope.legacy_events", lambda root: frozenset({"maria"}))
    assert fold_refusal("m", NEW, "kerala_floods_2018", None) is None
    assert "was trained on canada_wildfires_2016" in fold_refusal(
        "m", NEW, "canada_wildfires_2016", None
    )
    assert "not held out" in fold_refusal("m", NEW, "hurricane_irma_2017", None)
    assert "legacy sources" in fold_refusal("m", LEGACY, "maria", None)
    assert fold_refusal("m", LEGACY, "kerala_floods_2018", None) is None


def test_dev_crises_are_recorded_and_refused_when_trained_on():
    scope = DataScope(
        events=frozenset({"canada_wildfires_2016"}),
        loco_events=frozenset({"kerala_floods_2018"}),
        dev_events=frozenset({"greece_wildfires_2018"}),
    )
    assert DataScope.from_dict(scope.as_dict()) == scope
    assert fold_refusal("m", scope, "greece_wildfires_2018", None) is None
    assert "was trained on" in fold_refusal("m", scope, "canada_wildfires_2016", None)
    # a package recorded before dev crises: they were in its training data
    old = DataScope.from_dict({"events": [], "loco_events": ["kerala_floods_2018"]})
    assert "not held out" in fold_refusal("m", old, "greece_wildfires_2018", None)
    assert scope.merged(old).dev_events == frozenset()  # held out only if both held it out
    assert scope.merged(LEGACY).dev_events == scope.dev_events
