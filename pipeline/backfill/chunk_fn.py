"""The backfill's one ParDo: read a chunk, check each row, classify, enrich, write Parquet.

Runs in Dask worker processes. The model is loaded once per process (the Dask runner calls a
DoFn's setup for every bundle, so the classifier is cached here, not in ``setup``). Output
files are written under a temporary name and renamed: a chunk's labelled file appears whole,
after its dead letters, so its presence means the chunk is done (progress, ``--resume``).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from models.errors import TriageError, first_line
from models.runtime import OnnxClassifier, RuntimeOptions
from pipeline.backfill.chunks import Chunk, Row, read_chunk
from pipeline.backfill.config import BackfillConfig
from pipeline.backfill.records import DEAD_LETTER_SCHEMA, dead_letter_row, label_row, labels_schema
from pipeline.contract import InvalidPost, validate_post
from pipeline.enrich import enrich
from pipeline.routing import route_of

LABELS_DIR = "labels"
DEAD_LETTER_PARTS_DIR = "_dead_letters"

_CLASSIFIERS: dict[tuple[str, int, int], OnnxClassifier] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def labels_path(output: str | Path, chunk: Chunk) -> Path:
    return Path(output) / LABELS_DIR / f"{chunk.name}.parquet"


def dead_letters_path(output: str | Path, chunk: Chunk) -> Path:
    return Path(output) / DEAD_LETTER_PARTS_DIR / f"{chunk.name}.parquet"


def worker_classifier(model: str, threads: int, batch_size: int) -> OnnxClassifier:
    """This process's classifier for ``model`` (loaded and checksum-verified once)."""
    key = (model, threads, batch_size)
    with _CLASSIFIERS_LOCK:
        classifier = _CLASSIFIERS.get(key)
        if classifier is None:
            options = RuntimeOptions(intra_op_threads=threads, sub_batch_size=batch_size)
            classifier = _CLASSIFIERS[key] = OnnxClassifier.from_path(model, options)
        return classifier


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` atomically (a temporary file in the same folder, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:8]}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def classify_chunk(chunk: Chunk, config: BackfillConfig) -> dict[str, Any]:
    """Process one chunk end to end; returns its counts."""
    classifier = worker_classifier(str(config.model), config.threads, config.batch_size)
    rows = read_chunk(chunk, config.text_column, config.id_column)
    letters: list[dict[str, Any]] = []

    def reject(row: Row, reason: str, detail: str) -> None:
        post_id = row.post.get("id") if row.post else None
        letters.append(dead_letter_row(chunk.path, row.number, post_id, reason, detail, row.raw))

    valid: list[Row] = []
    for row in rows:
        if row.post is None:
            reject(row, str(row.reason), row.detail)
            continue
        try:
            validate_post(row.post, config.max_text_chars)
        except InvalidPost as exc:
            reject(row, exc.reason, exc.detail)
        else:
            valid.append(row)
    try:
        predictions = classifier.predict([row.post["text"] for row in valid])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises untyped errors
        for row in valid:
            reject(row, "inference_error", f"the model raised: {first_line(exc)}")
        valid, predictions = [], []
    package = classifier.package
    labelled = []
    for row, prediction in zip(valid, predictions, strict=True):
        try:
            route = route_of(prediction)  # the model's own review decision, as in the stream
            labelled.append(
                label_row(row.post, prediction, route, enrich(row.post), chunk.path, row.number)
            )
        except Exception as exc:  # noqa: BLE001 - one row never stops the backfill
            reject(row, "internal_error", f"route/enrich raised {type(exc).__name__}: {exc}")
    if letters:  # before the labelled file: its presence marks the chunk done
        table = pa.Table.from_pylist(letters, schema=DEAD_LETTER_SCHEMA)
        write_parquet(table, dead_letters_path(config.output, chunk))
    table = pa.Table.from_pylist(labelled, schema=labels_schema(package.labels))
    write_parquet(table, labels_path(config.output, chunk))
    return {"chunk": chunk.name, "rows": len(rows), "labelled": len(labelled), "dead": len(letters)}


class ClassifyChunkFn(beam.DoFn):
    """Chunk → its counts, after writing its Parquet files (see :func:`classify_chunk`)."""

    def __init__(self, config: BackfillConfig) -> None:
        self._config = config

    def process(self, chunk: Chunk) -> Any:
        try:
            yield classify_chunk(chunk, self._config)
        except TriageError:
            raise
        except Exception as exc:  # an unreadable file, a full disk: name the chunk
            last = chunk.first_row + chunk.rows - 1
            raise TriageError(
                f"{chunk.path} rows {chunk.first_row}-{last}: {type(exc).__name__}: "
                f"{first_line(exc)}"
            ) from exc
