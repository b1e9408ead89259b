"""Read posts from CSV (polars) or JSON Lines files into contract-shaped dicts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.errors import TriageError

# Optional contract fields taken from CSV columns of the same name (other columns are dropped).
CSV_FIELDS = ("created_at", "lang", "user", "event", "source")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file's suffix; a TriageError for anything else."""
    if not path.is_file():
        raise TriageError(f"{path}: no such file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TriageError(f"{path}: unsupported file type {path.suffix!r}: use .csv or .jsonl")
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
    is_csv = file_format(path) == "csv"
    rows = _read_csv(path) if is_csv else _read_jsonl(path)
    posts = []
    for number, row in enumerate(rows):
        if limit is not None and number >= limit:
            break
        post = _to_post(row, number, path, text_column, id_column)
        if is_csv:  # a CSV's other columns (labels, splits, ...) are not post fields
            post = {k: v for k, v in post.items() if k in ("id", "text", *CSV_FIELDS)}
        posts.append(post)
    return posts


def _to_post(
    row: dict[str, Any], number: int, path: Path, text_column: str, id_column: str | None
) -> dict[str, Any]:
    if text_column not in row:
        raise TriageError(
            f"{path}: row {number + 1} has no {text_column!r} column/field "
            f"(has: {', '.join(row) or 'nothing'}); pass --text-column"
        )
    if id_column is not None and id_column not in row:
        raise TriageError(f"{path}: row {number + 1} has no {id_column!r} column/field")
    post = dict(row)
    post["text"] = post.pop(text_column)
    if id_column is not None:
        post["id"] = str(post.pop(id_column))
    elif post.get("id") is None:
        post["id"] = f"{path.stem}-{number}"
    return post


def _read_csv(path: Path) -> Iterator[dict[str, Any]]:
    import polars as pl

    try:
        frame = pl.read_csv(path, infer_schema_length=0)  # every column as text
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise TriageError(f"{path}: cannot read as CSV: {exc}") from exc
    for row in frame.iter_rows(named=True):
        yield {k: v for k, v in row.items() if not (k in CSV_FIELDS and v in (None, ""))}


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
