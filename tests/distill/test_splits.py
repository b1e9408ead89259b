"""Prepared splits: held-out events stay out of training; test sets are capped and typed."""

from __future__ import annotations

import polars as pl
import pytest

from distill.config import DataConfig
from distill.splits import TASKS, capped_sample, load_prepared, test_sets
from models.errors import TriageError
from models.package import LABELS

GOLD = {
    "4way": set(LABELS),
    "actionable": {"actionable", "not_actionable"},
    "informative": {"informative", "not_informative"},
}


def test_held_out_events_absent_from_training(prepared_data):
    data = load_prepared(prepared_data)
    held = set(DataConfig().held_out_events)
    for name in ("train", "dev", "transfer"):
        assert not (set(data[name]["event_id"]) & held), name
    assert "hurricane_maria_2017" in set(data["train"]["event_id"])  # HumAID train kept


def test_humaid_test_rows_only_in_humaid_test(prepared_data, shared_data):
    raw = pl.read_csv(shared_data / "humaid_maria" / "humaid_maria.csv", infer_schema_length=0)
    tests = test_sets(prepared_data)
    assert tests["humaid_test"].height == min(raw.filter(pl.col("split") == "test").height, 300)
    # humaid supersedes humaid_maria: the same Maria test split, now read from humaid
    assert set(tests["humaid_test"]["source"]) == {"humaid"}
    assert set(tests["humaid_test"]["raw_text"]) <= set(raw["text"])


def test_test_sets_have_tasks_gold_and_caps(prepared_data):
    tests = test_sets(prepared_data)
    assert set(tests) == set(TASKS)
    for name, frame in tests.items():
        assert frame.height <= 300 and frame.height > 50, name
        assert set(frame["task"]) == {TASKS[name]}
        assert set(frame["gold"]) == GOLD[TASKS[name]], name
        assert frame["text"].str.len_chars().min() > 0


def test_train_targets_and_transfer(prepared_data):
    data = load_prepared(prepared_data)
    assert set(data["train"]["target"]) == set(LABELS) | {"actionable"}
    assert set(data["transfer"]["target"]) == {"unlabelled"}
    assert set(data["dev"]["source"]) >= {"humaid", "smerp2017", "crisismmd", "crisislext26"}
    assert {"label", "source_split"} <= set(data["train"].columns)  # the source's own label


def test_capped_sample_keeps_rare_classes_whole():
    frame = pl.DataFrame({"gold": ["a"] * 1000 + ["b"] * 30 + ["c"] * 200})
    sample = capped_sample(frame, "gold", 300, seed=1)
    counts = dict(sample.group_by("gold").len().iter_rows())
    assert counts == {"a": 135, "b": 30, "c": 135}
    assert capped_sample(frame, "gold", 300, seed=1).equals(sample)  # seeded


def test_missing_prepared_data_is_a_readable_error(tmp_path):
    with pytest.raises(TriageError, match="triage distill prepare"):
        load_prepared(tmp_path)
