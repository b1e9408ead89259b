"""Loaders of the new sources on self-written CSVs: multi-label targets, event aliases,
translations' language column, humaid superseding humaid_maria."""

from __future__ import annotations

import polars as pl
import pytest

from distill.data import (
    EVALUATION_ONLY_SOURCES,
    SOURCES,
    event_id,
    label_parts,
    load_all,
    load_source,
)
from models.errors import TriageError

ITALY = "italy_earthquake_aug_2016"
RESCUE = "rescue_volunteering_or_donation_effort"
DAMAGE = "infrastructure_damage_restoration_casualties"
SMERP_ROWS = [
    ("Rescuers need jacks and chain saws in Amatrice", "resources_required", ITALY, "train"),
    (
        "Army sends tents but villagers still need blankets",
        "resources_available|resources_required",
        ITALY,
        "train",
    ),
    (
        "Red Cross teams are distributing water in Accumoli",
        "resources_available|rescue_activities_of_ngos_or_govt",
        ITALY,
        "test",
    ),
    ("Church tower collapsed in Amatrice", DAMAGE, ITALY, ""),
]


def test_multi_label_rows_take_the_most_costly_miss(source_csvs):
    root = source_csvs({"smerp2017": SMERP_ROWS})
    rows = load_all(root, sources=("smerp2017",))
    assert rows["target"].to_list() == ["request", "request", "offer", "other"]
    # the source's own (multi-)label survives untouched
    assert rows["label"].to_list() == [row[1] for row in SMERP_ROWS]
    assert label_parts("smerp2017", "a|b") == ["a", "b"]
    assert label_parts("humaid", "a|b") == ["a|b"]


def test_an_unmapped_part_of_a_multi_label_is_a_readable_error(source_csvs):
    bad = [("Text about the quake", "resources_required|made_up_part", ITALY, "train")]
    with pytest.raises(TriageError, match="made_up_part"):
        load_all(source_csvs({"smerp2017": bad}), sources=("smerp2017",))


def test_crisismmd_events_get_humaid_ids_and_no_request_class(source_csvs):
    rows = [
        ("Relief trucks leave for Puebla", RESCUE, "mexico_earthquake", "train"),
        ("Family displaced by Harvey needs help", "affected_individuals", "hurricane_harvey", ""),
        ("Fire near Santa Rosa spreads", "other_relevant_information", "california_wildfires", ""),
    ]
    frame = load_all(source_csvs({"crisismmd": rows}), sources=("crisismmd",))
    assert frame["event_id"].to_list() == [
        "puebla_mexico_earthquake_2017",
        "hurricane_harvey_2017",
        "california_wildfires_2017",  # the 2017 fires, not HumAID's california_wildfires_2018
    ]
    assert frame["target"].to_list() == ["actionable", "unlabelled", "other"]
    assert event_id("hurricane_maria", "humaid") == "hurricane_maria"  # aliases are per source


def test_translations_are_mapped_like_crisismmd_and_never_trained_on(source_csvs):
    rows = [
        ("Voluntarios reparten agua en San Juan", RESCUE, "hurricane_maria", "test", "es"),
        ("Des maisons détruites à Porto Rico", "vehicle_damage", "hurricane_maria", "test", "fr"),
    ]
    frame = load_all(source_csvs({"crisismmd_translations": rows}), sources=EVALUATION_ONLY_SOURCES)
    assert frame["language"].to_list() == ["es", "fr"]
    assert frame["target"].to_list() == ["actionable", "other"]
    assert set(frame["event_id"]) == {"hurricane_maria_2017"}
    assert not set(EVALUATION_ONLY_SOURCES) & set(SOURCES)


def test_humaid_supersedes_humaid_maria():
    assert "humaid" in SOURCES and "humaid_maria" not in SOURCES
    assert SOURCES.index("humaid") < SOURCES.index("crisismmd")  # HumAID's copy wins in dedup


def test_missing_columns_are_a_readable_error(tmp_path):
    (tmp_path / "humaid").mkdir()
    (tmp_path / "humaid" / "humaid.csv").write_text("text,label\nhello,x\n", "utf-8")
    with pytest.raises(TriageError, match="lacks columns"):
        load_source("humaid", tmp_path)


def test_real_new_sources_load_with_their_events(shared_data):
    humaid = load_source("humaid", shared_data)
    assert humaid.height > 70_000 and humaid["event_id"].n_unique() == 19
    mmd = load_all(shared_data, sources=("crisismmd",))
    assert set(mmd["event_id"]) >= {"hurricane_maria_2017", "puebla_mexico_earthquake_2017"}
    assert "request" not in set(mmd["target"])
    smerp = load_all(shared_data, sources=("smerp2017",))
    both = smerp.filter(pl.col("label").str.contains("resources_required"))
    assert set(both["target"]) == {"request"}
