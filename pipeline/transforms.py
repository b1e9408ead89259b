"""Beam transforms of the triage job: parse (dead letters on a tagged output), classify, route.

Everything on the live path is element-wise (ParDo / RunInference batching within a bundle):
no GroupByKey, windows or timers, which fire only when the source ends on FnApiRunner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from pipeline import metrics
from pipeline.contract import (
    DEFAULT_MAX_TEXT_CHARS,
    InvalidPost,
    Post,
    dead_letter,
    encode_json,
    parse_record,
    utc_now_iso,
)
from pipeline.kafka import KafkaMessage, KafkaRecord
from pipeline.routing import DLQ, choose_route, routed_message, topic_for

DEAD_LETTERS_TAG = "dead_letters"


def dead_letter_message(prefix: str, record: Any, reason: str, detail: str) -> KafkaMessage:
    """Count a dead letter and wrap it as a message for ``<prefix>.dlq``."""
    metrics.DEAD_LETTERS.labels(reason=reason).inc()
    return KafkaMessage(
        topic=topic_for(prefix, DLQ),
        key=record.key,
        value=encode_json(dead_letter(record, reason, detail)),
    )


class ParsePosts(beam.DoFn):
    """KafkaRecord → (Post, text), keyed for RunInference; anything off-contract → a dead
    letter on ``DEAD_LETTERS_TAG``."""

    def __init__(self, output_prefix: str, max_text_chars: int, metrics_port: int = 0):
        self._prefix = output_prefix
        self._max_text_chars = max_text_chars
        self._metrics_port = metrics_port

    def setup(self) -> None:
        # FnApiRunner: already serving in the launching process (no-op). Distributed
        # runners: each worker process serves its own /metrics on the same port.
        try:
            metrics.start_metrics_server(self._metrics_port)
        except OSError as exc:  # e.g. a second worker process on the same host
            logging.getLogger(__name__).warning(
                "metrics port %s unavailable in this worker: %s", self._metrics_port, exc
            )

    def process(self, record: KafkaRecord) -> Iterator[Any]:
        try:
            post = parse_record(record, self._max_text_chars)
        except InvalidPost as exc:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTERS_TAG,
                dead_letter_message(self._prefix, record, exc.reason, exc.detail),
            )
            return
        yield post, post.text


class RoutePosts(beam.DoFn):
    """(Post, PredictionResult) → the routed KafkaMessage, keyed by post id."""

    def __init__(self, output_prefix: str, thresholds: Mapping[str, float]):
        self._prefix = output_prefix
        self._thresholds = dict(thresholds)
        self._enrich = None
        self._routed: dict[tuple[str, str], Any] = {}  # (route, label) → counter child

    def setup(self) -> None:
        try:  # optional: location/resource enrichment, when that module is installed
            from pipeline.enrich import enrich
        except ImportError:
            enrich = None
        self._enrich = enrich

    def process(self, element: tuple[Post, PredictionResult]) -> Iterator[KafkaMessage]:
        post, result = element
        classification = result.inference.as_dict()
        label = classification["label"]
        route = choose_route(label, classification["probabilities"], self._thresholds)
        enrichment = self._enrich(post.fields) if self._enrich is not None else None
        message = routed_message(post, classification, route, utc_now_iso(), enrichment)
        counter = self._routed.get((route, label))
        if counter is None:
            counter = self._routed[route, label] = metrics.POSTS_ROUTED.labels(route, label)
        counter.inc()
        metrics.END_TO_END_LATENCY.observe(max(0.0, time.time() - post.timestamp_ms / 1000.0))
        yield KafkaMessage(
            topic=topic_for(self._prefix, route),
            key=post.id.encode("utf-8"),
            value=encode_json(message),
        )


def _failed_batch_to_dead_letters(prefix: str, failed: tuple[Any, Any]) -> Iterator[KafkaMessage]:
    """RunInference's failed batch → one dead letter per post.

    Beam's exception handling emits ``(batch, (exception type, repr, traceback lines))``.
    """
    batch, error = failed
    detail = (error[1] if isinstance(error, tuple) else repr(error))[:500]
    for post, _text in batch:
        record = KafkaRecord(
            post.topic,
            post.partition,
            post.offset,
            post.id.encode("utf-8"),
            encode_json(post.fields),
            post.timestamp_ms,
        )
        yield dead_letter_message(prefix, record, "inference_error", detail)


class TriagePosts(beam.PTransform):
    """KafkaRecords → KafkaMessages for the routed and dead-letter topics.

    Returns a dict of PCollections of KafkaMessage: ``routed``, ``dead_letters`` (contract
    violations) and ``failed`` (posts whose model call failed, as dead letters).
    """

    def __init__(
        self,
        model_handler: KeyedModelHandler,
        thresholds: Mapping[str, float],
        output_prefix: str,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        metrics_port: int = 0,
    ):
        super().__init__()
        self._handler = model_handler
        self._thresholds = dict(thresholds)
        self._prefix = output_prefix
        self._max_text_chars = max_text_chars
        self._metrics_port = metrics_port

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        prefix = self._prefix
        parsed = records | "Parse" >> beam.ParDo(
            ParsePosts(prefix, self._max_text_chars, self._metrics_port)
        ).with_outputs(DEAD_LETTERS_TAG, main="posts")
        classified, failed = (
            parsed.posts | "Classify" >> RunInference(self._handler).with_exception_handling()
        )
        routed = classified | "Route" >> beam.ParDo(RoutePosts(prefix, self._thresholds))
        failed_letters = failed.failed_inferences | "FailedToDLQ" >> beam.FlatMap(
            lambda failed_batch: _failed_batch_to_dead_letters(prefix, failed_batch)
        )
        # No Flatten: on FnApiRunner it ends the fused stage, and a stage downstream of an
        # unbounded source never runs. Each branch gets its own sink instead.
        return {
            "routed": routed,
            "dead_letters": parsed[DEAD_LETTERS_TAG],
            "failed": failed_letters,
        }
