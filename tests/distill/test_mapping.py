"""The label mapping covers every source label in the data, with the reviewed targets."""

from __future__ import annotations

import polars as pl
import pytest

from distill.data import (
    EVALUATION_ONLY_SOURCES,
    LEGACY_SOURCES,
    MAPPED_AS,
    SOURCES,
    TARGETS,
    label_parts,
    load_all,
    load_mapping,
    load_source,
)
from models.errors import TriageError

ALL_SOURCES = tuple(dict.fromkeys(SOURCES + LEGACY_SOURCES + EVALUATION_ONLY_SOURCES))


@pytest.mark.parametrize("name", ALL_SOURCES)
def test_every_source_label_has_a_mapping_row(shared_data, name):
    if not (shared_data / name / f"{name}.csv").is_file():
        pytest.skip(f"{name} is not in {shared_data}")
    mapping = load_mapping()
    known = set(mapping.select("source", "source_label").iter_rows())
    mapped = MAPPED_AS.get(name, name)
    values = set(load_source(name, shared_data)["label"].unique().to_list())
    parts = {part for value in values for part in label_parts(name, value)}
    missing = {part for part in parts if (mapped, part) not in known}
    assert not missing, f"{name}: unmapped labels {missing}"


def test_new_sources_have_rows_for_every_label_they_define():
    """The label sets their SOURCE.md files name (so CI without ../shared still checks)."""
    mapping = load_mapping()
    defined = {
        "humaid": {
            "requests_or_urgent_needs", "rescue_volunteering_or_donation_effort",
            "sympathy_and_support", "caution_and_advice", "displaced_people_and_evacuations",
            "infrastructure_and_utility_damage", "injured_or_dead_people",
            "missing_or_found_people", "other_relevant_information", "not_humanitarian",
        },
        "smerp2017": {
            "resources_required", "resources_available", "rescue_activities_of_ngos_or_govt",
            "infrastructure_damage_restoration_casualties",
        },
        "crisismmd": {
            "rescue_volunteering_or_donation_effort", "other_relevant_information",
            "not_humanitarian", "infrastructure_and_utility_damage", "affected_individuals",
            "injured_or_dead_people", "missing_or_found_people", "vehicle_damage",
        },
    }  # fmt: skip
    for source, labels in defined.items():
        rows = set(mapping.filter(pl.col("source") == source)["source_label"])
        assert rows == labels, source


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
        ("humaid", "requests_or_urgent_needs", "request"),
        ("humaid", "rescue_volunteering_or_donation_effort", "offer"),
        ("humaid", "missing_or_found_people", "other"),
        ("smerp2017", "resources_required", "request"),
        ("smerp2017", "resources_available", "offer"),
        ("crisismmd", "rescue_volunteering_or_donation_effort", "actionable"),
        ("crisismmd", "affected_individuals", "unlabelled"),
        ("crisismmd", "not_humanitarian", "other"),
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
