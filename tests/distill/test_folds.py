"""Leave-one-crisis-out layout on self-written sources: no text or event of a held-out crisis
reaches train, dev or transfer; folds hold the crisis' posts from their scoring source."""

from __future__ import annotations

import json

import polars as pl
import pytest

from distill.config import DataConfig
from distill.folds import DEV_CRISES, LOCO_FOLDS, dev_crisis_sets, fold_sets
from distill.scope import scope_from_manifest
from distill.splits import prepare
from models.errors import TriageError

KERALA, MARIA, ITALY, CANADA = (
    "kerala_floods_2018",
    "hurricane_maria_2017",
    "italy_earthquake_aug_2016",
    "canada_wildfires_2016",
)
REQUEST, OFFER = "requests_or_urgent_needs", "rescue_volunteering_or_donation_effort"
SYMPATHY, DAMAGE, INFO = (
    "sympathy_and_support",
    "infrastructure_and_utility_damage",
    "other_relevant_information",
)
SMERP_REQUEST = "resources_required|rescue_activities_of_ngos_or_govt"
SMERP_DAMAGE = "infrastructure_damage_restoration_casualties"
KERALA_NEED = "Need drinking water and food at the relief camp in Aluva please send help"
MARIA_NEED = "Families in Utuado need water and generators urgently, the roads are cut off"
SAN_JUAN = "Power lines down all over San Juan after the storm"
SOURCES = {
    "humaid": [
        (KERALA_NEED, REQUEST, KERALA, "train"),
        ("Volunteers distributing rice and blankets in Chengannur camps", OFFER, KERALA, "dev"),
        ("Praying for everyone in Kerala hit by the floods tonight", SYMPATHY, KERALA, "test"),
        (MARIA_NEED, REQUEST, MARIA, "train"),
        (SAN_JUAN, DAMAGE, MARIA, "test"),
        ("Evacuees from Fort McMurray need shelter and baby formula", REQUEST, CANADA, "train"),
        ("Donations of water arriving for Fort McMurray evacuees", OFFER, CANADA, "dev"),
        ("Wildfire smoke visible from Edmonton highway this morning", INFO, CANADA, "test"),
        # a retweet of the Kerala request, filed under another crisis: must not train either
        (f"RT @aid: {KERALA_NEED}", REQUEST, CANADA, "train"),
        ("Italian red cross deploying tents near Amatrice", OFFER, ITALY, "train"),
    ],
    "smerp2017": [
        ("Rescuers in Amatrice ask for jacks and chain saws", SMERP_REQUEST, ITALY, "train"),
        ("Free phone calls to Italy after the quake", "resources_available", ITALY, "validation"),
        ("Old church tower in Accumoli collapsed overnight", SMERP_DAMAGE, ITALY, "test"),
    ],
    "crisismmd": [
        ("Relief flights to Puerto Rico loaded with supplies", OFFER, "hurricane_maria", "train"),
        # the Maria request again, in a crisis that stays in training
        (MARIA_NEED + " http://t.co/x", "affected_individuals", "srilanka_floods", "train"),
        ("Colombo roads flooded after monsoon rains", INFO, "srilanka_floods", "dev"),
    ],
}
HELD_OUT = [KERALA, MARIA, ITALY]


@pytest.fixture
def loco_layout(source_csvs, tmp_path):
    root = source_csvs(SOURCES)
    cfg = DataConfig(sources=list(SOURCES), loco_events=HELD_OUT, test_cap=50, dev_fraction=0.0)
    manifest = prepare(root, tmp_path / "prepared", cfg)
    return tmp_path / "prepared", manifest


def _training_rows(prepared) -> pl.DataFrame:
    names = ("train", "dev", "transfer")
    return pl.concat(pl.read_parquet(prepared / f"{name}.parquet") for name in names)


def test_no_held_out_crisis_reaches_train_dev_or_transfer(loco_layout):
    prepared, manifest = loco_layout
    training = _training_rows(prepared)
    folds, _ = fold_sets(prepared)
    assert not set(training["event_id"]) & set(HELD_OUT)
    fold_keys = set().union(*(set(f["dup_key"]) for f in folds.values()))
    assert not set(training["dup_key"]) & fold_keys
    texts = " ".join(training["text"].to_list())
    assert "Aluva" not in texts and "Utuado" not in texts  # copies in other crises went too
    assert set(training["event_id"]) == {CANADA, "srilanka_floods_2017"}
    assert manifest["training_events"] == sorted(set(training["event_id"]))
    assert manifest["loco"]["events"] == HELD_OUT


def test_folds_hold_the_crisis_posts_of_their_scoring_source(loco_layout):
    prepared, manifest = loco_layout
    folds, info = fold_sets(prepared)
    assert set(folds) == set(HELD_OUT) == set(manifest["loco"]["folds"])
    # every split of the crisis, HumAID only (CrisisMMD's Maria post is held out, not scored)
    assert sorted(folds[KERALA]["gold"]) == ["emotional_support", "offer", "request"]
    assert set(folds[MARIA]["source"]) == {"humaid"} and folds[MARIA].height == 2
    # SMERP scores Italy; HumAID's Italy row is held out with it but not scored
    assert info[ITALY]["sources"] == ["smerp2017"]
    assert folds[ITALY]["gold"].to_list() == ["request", "offer", "other"]
    assert folds[ITALY]["label"][0] == SMERP_REQUEST
    assert set(folds[KERALA]["task"]) == {"4way"}


def test_held_out_maria_still_feeds_the_old_humaid_test(loco_layout):
    prepared, _ = loco_layout
    humaid_test = pl.read_parquet(prepared / "test" / "humaid_test.parquet")
    assert humaid_test["raw_text"].to_list() == [SAN_JUAN]


def test_default_layout_trains_on_every_crisis(source_csvs, tmp_path):
    cfg = DataConfig(sources=list(SOURCES), test_cap=50, dev_fraction=0.0)
    manifest = prepare(source_csvs(SOURCES), tmp_path / "prepared", cfg)
    assert set(manifest["training_events"]) >= {KERALA, MARIA, ITALY, CANADA}
    assert manifest["loco"] == {"events": [], "folds": {}, "dev_events": [], "dev_crises": {}}
    train = pl.read_parquet(tmp_path / "prepared" / "train.parquet")
    dev = pl.read_parquet(tmp_path / "prepared" / "dev.parquet")
    # the source's own label survives; SMERP's own test split trains in the default layout
    smerp = train.filter(pl.col("source") == "smerp2017")
    assert smerp["label"].to_list() == [SMERP_REQUEST, SMERP_DAMAGE]
    assert set(dev["source_split"]) == {"dev", "validation"}  # the sources' own dev splits
    counts = manifest["rows_by_source"]["humaid"]
    assert counts["duplicates_removed"] == 1  # the Kerala retweet filed under Canada
    with pytest.raises(TriageError, match="prepare --loco"):
        fold_sets(tmp_path / "prepared")


def test_duplicate_sources_keep_one_copy(source_csvs, tmp_path):
    maria = [row for row in SOURCES["humaid"] if row[2] == MARIA]
    root = source_csvs({"humaid": maria, "humaid_maria": maria})
    cfg = DataConfig(sources=["humaid", "humaid_maria"], test_cap=50, dev_fraction=0.0)
    manifest = prepare(root, tmp_path / "prepared", cfg)
    assert manifest["rows_by_source"]["humaid_maria"]["duplicates_removed"] == 2
    assert manifest["tests"]["humaid_test"]["rows"] == 1


def test_unknown_loco_event_is_a_readable_error(source_csvs, tmp_path):
    cfg = DataConfig(sources=["humaid"], loco_events=["hurricane_mariaa_2017"])
    with pytest.raises(TriageError, match="hurricane_mariaa_2017"):
        prepare(source_csvs(SOURCES), tmp_path / "prepared", cfg)


CANADA_NEED = "Evacuees from Fort McMurray need shelter and baby formula"


@pytest.fixture
def dev_layout(source_csvs, tmp_path):
    """Canada as a dev crisis next to the folds; its request is copied into Sri Lanka."""
    sources = dict(SOURCES)
    copy = (f"RT {CANADA_NEED}", "affected_individuals", "srilanka_floods", "train")
    sources["crisismmd"] = [*SOURCES["crisismmd"], copy]
    cfg = DataConfig(
        sources=list(sources),
        loco_events=HELD_OUT,
        dev_events=[CANADA],
        test_cap=50,
        dev_fraction=0.0,
    )
    return tmp_path / "prepared", prepare(source_csvs(sources), tmp_path / "prepared", cfg)


def test_dev_crises_are_held_out_like_folds(dev_layout):
    prepared, manifest = dev_layout
    training = _training_rows(prepared)
    dev_crises, info = dev_crisis_sets(prepared)
    assert set(dev_crises) == {CANADA} and info[CANADA]["sources"] == ["humaid"]
    assert CANADA not in set(training["event_id"])
    assert not set(training["dup_key"]) & set(dev_crises[CANADA]["dup_key"])
    assert "Fort McMurray" not in " ".join(training["text"])  # the copy in Sri Lanka went too
    assert manifest["loco"]["dev_events"] == [CANADA]
    assert scope_from_manifest(manifest).dev_events == {CANADA}


def test_dev_crises_keep_no_text_of_a_fold(dev_layout):
    prepared, _ = dev_layout
    dev_crises, _ = dev_crisis_sets(prepared)
    folds, _ = fold_sets(prepared)
    fold_keys = set().union(*(set(f["dup_key"]) for f in folds.values()))
    assert not set(dev_crises[CANADA]["dup_key"]) & fold_keys  # the Kerala retweet is dropped
    assert sorted(dev_crises[CANADA]["gold"]) == ["offer", "other", "request"]
    assert set(dev_crises[CANADA]["raw_text"]) >= {CANADA_NEED}


def test_a_crisis_cannot_be_fold_and_dev(source_csvs, tmp_path):
    cfg = DataConfig(sources=["humaid"], loco_events=[KERALA], dev_events=[KERALA])
    with pytest.raises(TriageError, match="both a fold and a dev crisis"):
        prepare(source_csvs(SOURCES), tmp_path / "prepared", cfg)


def test_default_dev_crises_are_humaid_events_that_are_not_folds():
    assert not set(DEV_CRISES) & set(LOCO_FOLDS)
    assert set(DEV_CRISES.values()) == {"humaid"} and CANADA in DEV_CRISES


def test_default_folds_are_the_requested_crises():
    assert len(LOCO_FOLDS) == 12 and LOCO_FOLDS[ITALY] == "smerp2017"
    assert {KERALA, MARIA, "puebla_mexico_earthquake_2017"} <= set(LOCO_FOLDS)


@pytest.mark.slow
def test_real_loco_layout_leaks_nothing(shared_data, tmp_path):
    cfg = DataConfig(loco_events=list(LOCO_FOLDS), test_cap=50)
    manifest = prepare(shared_data, tmp_path / "loco", cfg)
    training = _training_rows(tmp_path / "loco")
    folds, _ = fold_sets(tmp_path / "loco")
    assert not set(training["event_id"]) & set(LOCO_FOLDS)
    assert not set(training["dup_key"]) & set().union(*(set(f["dup_key"]) for f in folds.values()))
    assert all(info["labels"]["request"] >= 50 for info in manifest["loco"]["folds"].values())
    assert json.loads((tmp_path / "loco" / "manifest.json").read_text())["loco"]["events"]
