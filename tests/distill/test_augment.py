"""TinyBERT-style augmentation: neighbour table, word replacement, copies for distillation."""

from __future__ import annotations

import numpy as np
import polars as pl

from distill.augment import augment_texts, neighbour_table, replace_words

TABLE = {"flood": ["storm", "deluge"], "water": ["supplies"], "help": ["aid"]}


def test_neighbours_are_close_content_words_not_stop_words_or_inflections():
    vocab = ["[PAD]", "flood", "floods", "deluge", "the", "and", "piano", "##ing", "storm"]
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 16))
    embeddings = rng.normal(size=(len(vocab), 16)) * 0.05
    for word in ("flood", "floods", "deluge", "the", "and", "storm"):
        embeddings[vocab.index(word)] += base[0]  # all close to each other; piano is far
    table = neighbour_table(vocab, embeddings, k=5, min_similarity=0.5)
    assert set(table["flood"]) == {"deluge", "storm"}  # not "floods", not stop words
    assert "the" not in table and "and" not in table and "##ing" not in table
    assert "piano" not in table["flood"] and "piano" not in table


def test_replacement_keeps_hashtags_mentions_urls_and_case():
    rng = np.random.default_rng(1)
    text = "Flood at #flood @flood http://flood.org FLOOD water"
    out = replace_words(text, TABLE, probability=1.0, rng=rng)
    words = out.split()
    assert words[0] in ("Storm", "Deluge")
    assert words[2:5] == ["#flood", "@flood", "http://flood.org"]
    assert words[5] in ("STORM", "DELUGE") and words[6] == "supplies"
    assert replace_words(text, TABLE, probability=0.0, rng=rng) == text


def test_copies_are_new_distinct_seeded_and_capped():
    texts = ["we need water", "flood in town, help", "no replaceable words here"]
    copies = augment_texts(texts, TABLE, n=5, probability=1.0, seed=3)
    assert copies == augment_texts(texts, TABLE, n=5, probability=1.0, seed=3)
    assert len(copies) == len(set(copies)) <= 5
    assert not set(copies) & set(texts)
    assert "we need supplies" in copies
    assert augment_texts(texts, TABLE, n=1, probability=1.0) and not augment_texts([], TABLE, 3)


def test_with_augmented_adds_unlabelled_rows_only(monkeypatch):
    import distill.augment
    from distill.config import TrainConfig
    from distill.distil import with_augmented

    monkeypatch.setattr(distill.augment, "teacher_neighbours", lambda *_a, **_k: TABLE)
    monkeypatch.setattr("distill.base_models.mpnet_path", lambda: None)
    rows = pl.DataFrame(
        {"text": ["we need water", "flood here", "praying"], "target": ["request", "other", "x"]}
    )
    cfg = TrainConfig(name="s", role="student", augment_rows=2, augment_probability=1.0)
    out = with_augmented(rows, cfg, log=lambda _m: None)
    assert out.height == 5 and set(rows["text"]) < set(out["text"])
    added = out.filter(~pl.col("text").is_in(rows["text"].to_list()))
    assert added["target"].to_list() == ["unlabelled"] * 2
    assert with_augmented(rows, TrainConfig(name="s", role="student")).equals(rows)
