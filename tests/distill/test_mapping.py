"""The label mapping covers every source label in the data, with the reviewed targets."""

from __future__ import annotations

import polars as pl
import pytest

from distill.data import SOURCES, TARGETS, load_all, load_mapping, load_source
from models.errors import TriageError


def test_every_source_label_has_a_mapping_row(shared_data):
    mapping = load_mapping()
    known = set(mapping.select("source", "source_label").iter_rows())
    for name in SOURCES:
        labels = set(load_source(name, shared_data)["label"].unique().to_list())
        missing = {label for label in labels if (name, label) not in known}
        assert not missing, f"{name}: unmapped labels {missing}"


def test_rows_are_valid_and_explained():
    mapping = load_mapping()
    assert set(mapping["target"].unique()) <= set(TARGETS)
    assert set(mapping["informative"].unique()) <= {"informative", "not_informative", ""}
    assert mapping.filter(pl.col("comment").fill_null("").str.len_chars() < 5).height == 0


@pytest.mark.parametrize(
    ("source", "label", "target"),
    [
        ("humaid_maria", "requests_or_urgent_needs", "request"),
        ("humaid_maria", "rescue_volunteering_or_donation_effort", "offer"),
        ("humaid_maria", "sympathy_and_support", "emotional_support"),
        ("humaid_maria", "not_humanitarian", "other"),
        ("crisislext26", "Donations and volunteering", "actionable"),
        ("crisislext26", "Not labeled", "unlabelled"),
        ("crisisnlp_cf", "donation_needs_or_offers_or_volunteering_services", "actionable"),
        ("crisisnlp_volunteers", "Urgent Needs", "request"),
        ("crisisnlp_volunteers", "Response Efforts", "offer"),
        ("crisisnlp_volunteers", "Shelter and supplies", "actionable"),
        ("crisisnlp_volunteers", "Praying", "emotional_support"),
        ("crisislext6", "off-topic", "unlabelled"),
    ],
)
def test_specific_rows(source, label, target):
    mapping = load_mapping()
    row = mapping.filter((pl.col("source") == source) & (pl.col("source_label") == label))
    assert row["target"].to_list() == [target]


def test_informative_column_for_relevance_sets():
    mapping = load_mapping()
    pairs = dict(
        mapping.filter(pl.col("source").is_in(["kaggle", "crisislext6"]))
        .select("source_label", "informative")
        .iter_rows()
    )
    assert pairs == {
        "target=1": "informative",
        "target=0": "not_informative",
        "on-topic": "informative",
        "off-topic": "not_informative",
    }


def test_unmapped_label_is_a_readable_error(tmp_path):
    folder = tmp_path / "humaid_maria"
    folder.mkdir()
    (folder / "humaid_maria.csv").write_text(
        "text,label,dataset,event,split\nhello,made_up_label,humaid,maria,train\n", "utf-8"
    )
    with pytest.raises(TriageError, match="made_up_label"):
        load_all(tmp_path, sources=("humaid_maria",))
