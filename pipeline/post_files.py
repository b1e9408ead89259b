"""Read posts from CSV or Parquet (polars) or JSON Lines files into contract-shaped dicts.

One row → post mapping for every file reader (``triage classify``, ``triage replay``,
``triage backfill``): the text column becomes ``text``; ``id`` comes from ``--id-column``, an
``id`` field (an integer becomes its decimal string), or else ``<file stem>-<row number>`` (rows
counted from 0; blank JSONL lines are not rows); tabular files keep only the contract's fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.errors import TriageError

# Optional contract fields taken from CSV/Parquet columns of the same name (others are dropped).
CSV_FIELDS = ("created_at", "lang", "user", "event", "source")
FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
TABULAR = ("csv", "parquet")


def file_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file's suffix; a TriageError otherwise."""
    if not path.is_file():
        raise TriageError(f"{path}: no such file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TriageError(
            f"{path}: unsupported file type {path.suffix!r}: use .csv, .jsonl or .parquet"
        )
    return fmt


def read_posts(
    path: str | Path,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Posts with ``id`` and ``text`` (ids default to ``<file stem>-<row number>``)."""
    path = Path(path)
    fmt = file_format(path)
    rows = _read_jsonl(path) if fmt == "jsonl" else _read_table(path, fmt)
    posts = []
    for number, row in enumerate(rows):
        if limit is not None and number >= limit:
            break
        check_columns(row, number, path, text_column, id_column)
        posts.append(row_to_post(row, number, path.stem, fmt, text_column, id_column))
    return posts


def check_columns(
    row: dict[str, Any], number: int, path: Path, text_column: str, id_column: str | None
) -> None:
    """A TriageError naming the missing text or id column/field of ``row``."""
    if text_column not in row:
        raise TriageError(
            f"{path}: row {number + 1} has no {text_column!r} column/field "
            f"(has: {', '.join(row) or 'nothing'}); pass --text-column"
        )
    if id_column is not None and id_column not in row:
        raise TriageError(f"{path}: row {number + 1} has no {id_column!r} column/field")


def row_to_post(
    row: dict[str, Any],
    number: int,
    stem: str,
    fmt: str,
    text_column: str = "text",
    id_column: str | None = None,
) -> dict[str, Any]:
    """One file row as a post dict (not validated: the contract check comes after).

    A row without the text field keeps no ``text`` (the contract then names it missing).
    """
    post = dict(row)
    if text_column != "text":
        post.pop("text", None)
        if text_column in post:
            post["text"] = post.pop(text_column)
    if id_column is not None:
        value = post.pop(id_column, None)
        post["id"] = None if value is None else str(value)
    elif post.get("id") is None:
        post["id"] = f"{stem}-{number}"
    elif isinstance(post["id"], int) and not isinstance(post["id"], bool):
        post["id"] = str(post["id"])  # a typed column or a JSON number (e.g. a tweet id)
    if fmt in TABULAR:  # a table's other columns (labels, splits, ...) are not post fields
        post = {k: v for k, v in post.items() if k in ("id", "text", *CSV_FIELDS)}
        if "text" in post and post["text"] is None:
            post["text"] = ""  # an empty cell: the contract calls it empty_text
    return post


def table_rows(frame: Any) -> Iterator[dict[str, Any]]:
    """A polars DataFrame's rows, empty optional contract fields dropped; a typed timestamp
    column (Parquet) becomes the contract's ISO-8601 UTC text."""
    for row in frame.iter_rows(named=True):
        yield {
            k: _iso_utc(v) if isinstance(v, datetime) else v
            for k, v in row.items()
            if not (k in CSV_FIELDS and v in (None, ""))
        }


def _iso_utc(value: datetime) -> str:
    """A datetime as ISO-8601 UTC with a ``Z`` (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def scan_table(path: Path, fmt: str) -> Any:
    """A polars LazyFrame over a CSV (every column as text) or Parquet file."""
    import polars as pl

    if fmt == "csv":
        return pl.scan_csv(path, infer_schema_length=0)
    return pl.scan_parquet(path)


def _read_table(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    import polars as pl

    try:
        frame = scan_table(path, fmt).collect()
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise TriageError(f"{path}: cannot read as {fmt.upper()}: {exc}") from exc
    yield from table_rows(frame)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TriageError(f"{path}:{line_number}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise TriageError(f"{path}:{line_number}: expected a JSON object per line")
            yield obj
