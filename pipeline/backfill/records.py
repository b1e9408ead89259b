"""The backfill's two Parquet outputs: labelled posts and dead letters (schemas and rows).

A labelled row carries what a routed message carries (``pipeline.routing.routed_message``):
the post's id and text, the classification (label, probabilities, model name and version,
route and review reason) and the enrichment, flattened into columns, plus where the row came
from. A dead letter carries the stream's reason names (``pipeline.contract``) and the raw row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from models.runtime import Prediction
from pipeline.contract import DEAD_LETTER_VALUE_BYTES, safe_text, utc_now_iso

LOCATION = pa.struct(
    [("name", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()), ("method", pa.string())]
)
ENRICHMENT = pa.struct([("resources", pa.list_(pa.string())), ("location", LOCATION)])
PASSED_THROUGH = ("event", "created_at", "lang")  # optional post fields kept as columns

DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("id", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("value", pa.string()),
        ("dead_lettered_at", pa.string()),
    ]
)


def labels_schema(labels: Sequence[str]) -> pa.Schema:
    """The labelled-posts schema; ``probabilities`` has one field per model label."""
    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("probabilities", pa.struct([(label, pa.float64()) for label in labels])),
            ("route", pa.string()),
            ("review_reason", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("enrichment", ENRICHMENT),
            *((name, pa.string()) for name in PASSED_THROUGH),
            ("source_file", pa.string()),
            ("source_row", pa.int64()),
        ]
    )


def label_row(
    post: Mapping[str, Any],
    prediction: Prediction,
    route: str,
    enrichment: Mapping[str, Any] | None,
    source_file: str,
    source_row: int,
) -> dict[str, Any]:
    """One labelled post as a row of :func:`labels_schema`."""
    model = prediction.as_dict()["model"]
    row = {
        "id": post["id"],
        "text": post["text"],
        "label": prediction.label,
        "probabilities": prediction.probabilities,
        "route": route,
        "review_reason": prediction.review_reason,
        "model_name": model["name"],
        "model_version": model["version"],
        "enrichment": dict(enrichment) if enrichment is not None else None,
        "source_file": source_file,
        "source_row": source_row,
    }
    for name in PASSED_THROUGH:
        value = post.get(name)
        row[name] = value if isinstance(value, str) else None
    return row


def dead_letter_row(
    source_file: str, source_row: int, post_id: Any, reason: str, detail: str, raw: str
) -> dict[str, Any]:
    """One bad row as a row of :data:`DEAD_LETTER_SCHEMA` (the raw value cut to 16 KiB)."""
    return {
        "source_file": source_file,
        "source_row": source_row,
        "id": post_id if isinstance(post_id, str) else None,
        "reason": reason,
        "detail": safe_text(detail),
        "value": safe_text(raw, DEAD_LETTER_VALUE_BYTES),
        "dead_lettered_at": utc_now_iso(),
    }
