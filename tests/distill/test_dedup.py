"""Dedup across sources: exact and retweet near-duplicates, resolved before splitting."""

from __future__ import annotations

import polars as pl

from distill.dedup import add_keys, duplicate_stats, near_key, resolve_duplicates
from distill.normalize import dedup_key
from distill.splits import load_prepared


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["humaid_maria", "crisislext26", "crisislext6", "kaggle", "crisislext26"],
            "raw_text": [
                "Families in Utuado need water and food urgently, roads cut off by the river http://t.co/",
                "RT @aid: families in Utuado need water and food urgently, roads cut off by the river",  # noqa: E501
                "RT @x: Families in Utuado need water and food urgently, roads cut off by the…",
                "Totally different post about a concert",
                "http://t.co/onlyalink",
            ],
            "rank": [2, 0, 3, 0, 2],
            "split_name": [
                "train",
                "crisislext26_heldout",
                "transfer",
                "kaggle_informative",
                "train",
            ],
        }
    )


def test_exact_and_retweet_near_duplicates_share_a_key():
    frame = add_keys(_frame())
    keys = frame["dup_key"].to_list()
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert keys[4] == ""
    stats = duplicate_stats(frame)
    assert stats["duplicate_rows"] == 2 and stats["keys_in_several_sources"] == 1


def test_test_copy_wins_and_empty_posts_are_dropped():
    kept = resolve_duplicates(add_keys(_frame()), "rank", "split_name")
    assert kept["split_name"].to_list() == ["crisislext26_heldout", "kaggle_informative"]


def test_near_key_is_a_word_prefix():
    assert near_key("a b c d", words=2) == "a b"
    assert near_key("a b", words=5) == "a b"


def test_no_post_in_both_train_and_a_test_set(prepared_data):
    data = load_prepared(prepared_data)
    train_keys = set(data["train"]["dup_key"]) | set(data["dev"]["dup_key"])
    train_keys |= set(data["transfer"]["dup_key"])
    for name in ("humaid_test", "crisislext26_heldout", "kaggle_informative"):
        test_keys = {near_key(dedup_key(t)) for t in data[name]["text"]}
        assert not (test_keys & train_keys), name
    assert data["train"]["dup_key"].n_unique() == data["train"].height
