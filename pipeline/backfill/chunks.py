"""A backfill's input: files matched by globs, cut into row ranges ("chunks"), read one by one.

Each chunk is one unit of work for a Dask worker and one output Parquet file, named after the
file and chunk index, so a rerun (or a retried task) rewrites the same file instead of adding
one. CSV and Parquet chunks are row slices (polars reads only what it needs); JSON Lines chunks
are byte ranges found at planning time, so a worker seeks straight to its lines.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import TriageError
from pipeline.post_files import file_format, row_to_post, scan_table, table_rows

DEFAULT_CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class Chunk:
    """Rows ``first_row .. first_row + rows - 1`` of one input file."""

    path: str
    fmt: str  # csv, jsonl or parquet
    file_index: int
    index: int
    first_row: int
    rows: int
    byte_start: int = 0  # JSON Lines only: where the chunk's first line starts
    byte_end: int = 0  # ... and where the next chunk starts

    @property
    def name(self) -> str:
        """``part-FFFF-CCCCC``: the output file's name without suffix."""
        return f"part-{self.file_index:04d}-{self.index:05d}"


@dataclass(frozen=True)
class Row:
    """One input row: its number in its file, and the post built from it or why there is none."""

    number: int
    post: dict[str, Any] | None
    raw: str  # the row as read (a JSONL line, or the row as JSON), for dead letters
    reason: str | None = None
    detail: str = ""


def expand_inputs(patterns: list[str]) -> list[Path]:
    """The files matched by ``patterns`` (globs; ``**`` recurses), sorted, without repeats."""
    files: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True))
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise TriageError(f"--input {pattern}: no file matches")
        for match in matches:
            path = Path(match).resolve()
            file_format(path)  # an unsupported suffix is an error before anything runs
            files.setdefault(path, None)
    return list(files)


def plan_chunks(
    files: list[Path], chunk_rows: int, text_column: str = "text", id_column: str | None = None
) -> list[Chunk]:
    """Every file's chunks of at most ``chunk_rows`` rows (empty files have none).

    A CSV or Parquet file without ``text_column`` (or ``id_column``, when given) is an error
    here, before any work starts.
    """
    chunks: list[Chunk] = []
    for file_index, path in enumerate(files):
        fmt = file_format(path)
        if fmt == "jsonl":
            chunks.extend(_jsonl_chunks(path, file_index, chunk_rows))
            continue
        total = _table_rows(path, fmt, text_column, id_column)
        for index, first in enumerate(range(0, total, chunk_rows)):
            rows = min(chunk_rows, total - first)
            chunks.append(Chunk(str(path), fmt, file_index, index, first, rows))
    return chunks


def _table_rows(path: Path, fmt: str, text_column: str, id_column: str | None) -> int:
    import polars as pl

    try:
        lazy = scan_table(path, fmt)
        columns = lazy.collect_schema().names()
        total = int(lazy.select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise TriageError(f"{path}: cannot read as {fmt.upper()}: {exc}") from exc
    for column, flag in ((text_column, "--text-column"), (id_column, "--id-column")):
        if total and column is not None and column not in columns:
            raise TriageError(
                f"{path}: no {column!r} column (has: {', '.join(columns)}); pass {flag}"
            )
    return total


def _jsonl_chunks(path: Path, file_index: int, chunk_rows: int) -> Iterator[Chunk]:
    """Byte ranges of ``chunk_rows`` non-blank lines each."""
    index = first_row = rows = 0
    start = position = 0
    with path.open("rb") as handle:
        for line in handle:
            if rows == chunk_rows:
                yield Chunk(str(path), "jsonl", file_index, index, first_row, rows, start, position)
                index, first_row, rows, start = index + 1, first_row + rows, 0, position
            position += len(line)
            if line.strip():
                rows += 1
    if rows:
        yield Chunk(str(path), "jsonl", file_index, index, first_row, rows, start, position)


def read_chunk(chunk: Chunk, text_column: str = "text", id_column: str | None = None) -> list[Row]:
    """The chunk's rows as posts (not yet checked against the contract) or unreadable rows."""
    stem = Path(chunk.path).stem
    if chunk.fmt == "jsonl":
        return list(_jsonl_rows(chunk, stem, text_column, id_column))
    frame = scan_table(Path(chunk.path), chunk.fmt).slice(chunk.first_row, chunk.rows).collect()
    rows = []
    for offset, row in enumerate(table_rows(frame)):
        number = chunk.first_row + offset
        post = row_to_post(row, number, stem, chunk.fmt, text_column, id_column)
        rows.append(Row(number, post, json.dumps(row, ensure_ascii=False, default=str)))
    return rows


def _jsonl_rows(chunk: Chunk, stem: str, text_column: str, id_column: str | None) -> Iterator[Row]:
    with open(chunk.path, "rb") as handle:
        handle.seek(chunk.byte_start)
        data = handle.read(chunk.byte_end - chunk.byte_start)
    number = chunk.first_row
    for raw in data.split(b"\n"):  # as planned: lines end at \n only
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "backslashreplace")
            yield Row(number, None, text, "invalid_utf8", str(exc))
        else:
            yield _json_row(line, number, stem, text_column, id_column)
        number += 1


def _json_row(line: str, number: int, stem: str, text_column: str, id_column: str | None) -> Row:
    try:
        obj = json.loads(line)
    except ValueError as exc:  # JSONDecodeError, or a number too large to convert
        return Row(number, None, line, "invalid_json", str(exc)[:200])
    if not isinstance(obj, dict):
        detail = f"expected a JSON object, got {type(obj).__name__}"
        return Row(number, None, line, "not_an_object", detail)
    return Row(number, row_to_post(obj, number, stem, "jsonl", text_column, id_column), line)
