"""Backfill planning and chunk reading: every row read once, in order, whatever the format."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from models.errors import TriageError
from pipeline.backfill.chunks import expand_inputs, plan_chunks, read_chunk
from pipeline.post_files import read_posts

POSTS = [{"id": f"p{i}", "text": f"need water at shelter {i}\nsecond line"} for i in range(23)]


def _all_rows(files: list[Path], chunk_rows: int, text_column: str) -> list:
    chunks = plan_chunks(files, chunk_rows, text_column)
    return [row for c in chunks for row in read_chunk(c, text_column)]


def test_jsonl_byte_ranges_cover_every_line_once(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    lines = [json.dumps(p) for p in POSTS]
    lines[4:4] = ["", "{not json", "[1, 2]"]  # a blank line (not a row) and two bad rows
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe bad bytes\n")
    chunks = plan_chunks([path], chunk_rows=5)
    assert [c.rows for c in chunks] == [5, 5, 5, 5, 5, 1]
    rows = [row for c in chunks for row in read_chunk(c)]
    assert [r.number for r in rows] == list(range(26))
    assert [r.reason for r in rows if r.reason] == ["invalid_json", "not_an_object", "invalid_utf8"]
    good = [r.post for r in rows if r.post is not None]
    assert good == POSTS


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_chunks_match_a_whole_file_read(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"posts.{fmt}"
    frame = pl.DataFrame(
        {"tweet": [p["text"] for p in POSTS], "label": ["x"] * 23, "event": ["e"] * 23}
    )
    frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    rows = _all_rows([path], chunk_rows=4, text_column="tweet")
    whole = read_posts(path, text_column="tweet")
    assert [r.post for r in rows] == whole
    assert whole[7] == {"id": "posts-7", "text": POSTS[7]["text"], "event": "e"}


def test_inputs_and_columns_errors(tmp_path: Path) -> None:
    with pytest.raises(TriageError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.jsonl")])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(TriageError, match="unsupported file type"):
        expand_inputs([str(tmp_path / "*.txt")])
    csv = tmp_path / "a.csv"
    csv.write_text("body\nhello\n")
    with pytest.raises(TriageError, match="no 'text' column"):
        plan_chunks(expand_inputs([str(csv)]), chunk_rows=10)
    with pytest.raises(TriageError, match="no 'tweet_id' column.*--id-column"):
        plan_chunks([csv], chunk_rows=10, text_column="body", id_column="tweet_id")


def test_integer_ids_become_strings_and_empty_cells_empty_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_text('{"id": 1234567890123, "text": "need food"}\n{"text": "x"}\n')
    rows = _all_rows([path], chunk_rows=10, text_column="text")
    assert [r.post["id"] for r in rows] == ["1234567890123", "ids-1"]
    csv = tmp_path / "cells.csv"
    csv.write_text('text,event\n"",quake\n')
    (row,) = _all_rows([csv], chunk_rows=10, text_column="text")
    assert row.post == {"id": "cells-0", "text": "", "event": "quake"}


def test_a_typed_parquet_timestamp_becomes_a_valid_created_at(tmp_path: Path) -> None:
    from datetime import datetime

    from pipeline.contract import validate_post

    path = tmp_path / "typed.parquet"
    pl.DataFrame(
        {"id": ["a"], "text": ["need water"], "created_at": [datetime(2017, 9, 21, 14, 3, 5)]}
    ).write_parquet(path)
    (row,) = _all_rows([path], chunk_rows=10, text_column="text")
    assert row.post["created_at"] == "2017-09-21T14:03:05Z"
    validate_post(row.post)  # no invalid_field: the contract accepts it
