"""Duplicate detection across all sources (before anything is split or sampled).

Two posts are duplicates when their :func:`distill.normalize.dedup_key` (retweet prefix, URLs,
mentions, case and punctuation removed) agrees on the first ``PREFIX_WORDS`` words: this
catches exact copies, retweets (``RT @user: …``) and retweets truncated with ``…``.
"""

from __future__ import annotations

import polars as pl

from distill.normalize import dedup_key, normalize_text

PREFIX_WORDS = 12


def near_key(key: str, words: int = PREFIX_WORDS) -> str:
    """The first ``words`` words of a dedup key (the whole key when shorter)."""
    return " ".join(key.split(" ")[:words])


def add_keys(frame: pl.DataFrame, text_column: str = "raw_text") -> pl.DataFrame:
    """Add ``text`` (normalised) and ``dup_key`` (near-duplicate key) columns."""
    frame = frame.with_columns(
        pl.col(text_column).map_elements(normalize_text, return_dtype=pl.Utf8).alias("text")
    )
    return frame.with_columns(
        pl.col("text")
        .map_elements(lambda t: near_key(dedup_key(t)), return_dtype=pl.Utf8)
        .alias("dup_key")
    )


def resolve_duplicates(frame: pl.DataFrame, rank_column: str, group_column: str) -> pl.DataFrame:
    """Keep one copy of each duplicate group, preferring the lowest ``rank_column``.

    Within a ``dup_key`` group only rows of the best (lowest) rank survive: so a post that is in
    a test set is removed from dev, train and transfer. Among those, one row per distinct
    ``group_column`` value is kept (the first in frame order), so two different test sets may
    each keep their copy. Rows with an empty key (no words) are dropped.
    """
    frame = frame.filter(pl.col("dup_key") != "")
    best = pl.col(rank_column).min().over("dup_key")
    kept = frame.filter(pl.col(rank_column) == best)
    return kept.unique(subset=["dup_key", group_column], keep="first", maintain_order=True)


def duplicate_stats(frame: pl.DataFrame) -> dict[str, int]:
    """How many rows share a key within one source and across sources."""
    per_key = frame.group_by("dup_key").agg(
        pl.len().alias("rows"), pl.col("source").n_unique().alias("sources")
    )
    return {
        "rows": frame.height,
        "unique_keys": per_key.height,
        "duplicate_rows": int((per_key["rows"] - 1).sum()),
        "keys_in_several_sources": int((per_key["sources"] > 1).sum()),
    }
