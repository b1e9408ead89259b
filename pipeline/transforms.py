"""Beam transforms of the triage job: parse (dead letters on a tagged output), classify, route.

Everything on the live path is element-wise (ParDo / RunInference batching within a bundle):
no GroupByKey, windows or timers, which fire only when the source ends on FnApiRunner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference

from pipeline import metrics
from pipeline.contract import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_TEXT_CHARS,
    MAX_OUTPUT_BYTES,
    InvalidPost,
    Post,
    dead_letter,
    encode_json,
    parse_record,
    utc_now_iso,
)
from pipeline.enrich import enrich
from pipeline.kafka import KafkaMessage, KafkaRecord
from pipeline.post_stages import PostStageOptions, PostStages
from pipeline.routing import DLQ, route_of, routed_message, topic_for

DEAD_LETTERS_TAG = "dead_letters"
_LOGGER = logging.getLogger(__name__)


def dead_letter_message(prefix: str, record: Any, reason: str, detail: str) -> KafkaMessage:
    """Count a dead letter and wrap it as a message for ``<prefix>.dlq``.

    The letter's key is the record's key only when it is small (a huge key would make the
    dead letter itself unwritable; the letter keeps a preview of it).
    """
    metrics.DEAD_LETTERS.labels(reason=reason).inc()
    letter = dead_letter(record, reason, detail)
    key = record.key if record.key is None or "key_truncated" not in letter else None
    return KafkaMessage(topic=topic_for(prefix, DLQ), key=key, value=encode_json(letter))


def internal_error_detail(step: str, exc: BaseException) -> str:
    """The dead-letter detail of a per-post step that raised: step, exception type, message."""
    return f"{step} raised {type(exc).__name__}: {exc}"


class ParsePosts(beam.DoFn):
    """KafkaRecord → (Post, text), keyed for RunInference; anything off-contract → a dead
    letter on ``DEAD_LETTERS_TAG``. Nothing a message holds can make this step raise: an
    unexpected exception dead-letters the record as ``internal_error``."""

    def __init__(
        self,
        output_prefix: str,
        max_text_chars: int,
        metrics_port: int = 0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ):
        self._prefix = output_prefix
        self._max_text_chars = max_text_chars
        self._max_message_bytes = max_message_bytes
        self._metrics_port = metrics_port

    def setup(self) -> None:
        # FnApiRunner: already serving in the launching process (no-op). Distributed
        # runners: each worker process serves its own /metrics on the same port.
        try:
            metrics.start_metrics_server(self._metrics_port)
        except OSError as exc:  # e.g. a second worker process on the same host
            _LOGGER.warning(
                "metrics port %s unavailable in this worker: %s", self._metrics_port, exc
            )

    def process(self, record: KafkaRecord) -> Iterator[Any]:
        try:
            post = parse_record(record, self._max_text_chars, self._max_message_bytes)
        except InvalidPost as exc:
            letter = dead_letter_message(self._prefix, record, exc.reason, exc.detail)
        except Exception as exc:  # noqa: BLE001 - last resort: one post never stops the job
            _LOGGER.exception(
                "parsing %s[%s]@%s failed", record.topic, record.partition, record.offset
            )
            detail = internal_error_detail("parse", exc)
            letter = dead_letter_message(self._prefix, record, "internal_error", detail)
        else:
            yield post, post.text
            return
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS_TAG, letter)


class RoutePosts(beam.DoFn):
    """(Post, PredictionResult) → the routed KafkaMessage, keyed by post id.

    The route follows the prediction's own review decision (made by the model version that
    classified the post, with that version's thresholds). Also: the post's language, the
    multilingual path for languages the model cannot read, and its near-duplicate cluster
    (:mod:`pipeline.post_stages`). A post whose routed message cannot be built or written (it
    raised, or it would exceed ``MAX_OUTPUT_BYTES``) goes to the dead-letter topic on
    ``DEAD_LETTERS_TAG`` instead.
    """

    def __init__(self, output_prefix: str, stages: PostStageOptions | None = None):
        self._prefix = output_prefix
        self._stage_options = stages or PostStageOptions()
        self._stages: PostStages | None = None
        self._enrich = enrich
        self._routed: dict[tuple[str, str, str], Any] = {}  # (route, label, version) → counter

    def setup(self) -> None:
        self._stages = PostStages(self._stage_options)
        self._stages.load()
        self._enrich = enrich  # an attribute, so a test can make enrichment fail

    def process(self, element: tuple[Post, PredictionResult]) -> Iterator[Any]:
        post, result = element
        try:
            route, prediction, message = self._route(post, result)
        except Exception as exc:  # noqa: BLE001 - last resort: one post never stops the job
            _LOGGER.exception("routing post %r failed", post.id)
            reason, detail = "internal_error", internal_error_detail("route", exc)
        else:
            if len(message.value) <= MAX_OUTPUT_BYTES:
                key = (route, prediction.label, prediction.version)
                counter = self._routed.get(key)
                if counter is None:
                    counter = self._routed[key] = metrics.POSTS_ROUTED.labels(*key)
                counter.inc()
                latency = time.time() - post.timestamp_ms / 1000.0
                metrics.END_TO_END_LATENCY.observe(max(0.0, latency))
                yield message
                return
            reason = "output_too_large"
            size = len(message.value)
            detail = f"the routed message has {size} bytes, the limit is {MAX_OUTPUT_BYTES}"
        yield beam.pvalue.TaggedOutput(
            DEAD_LETTERS_TAG, _safe_post_letter(self._prefix, post, reason, detail)
        )

    def _route(self, post: Post, result: PredictionResult) -> tuple[str, Any, KafkaMessage]:
        if self._stages is None:  # used without Beam's setup (tests)
            self.setup()
        stages = self._stages
        prediction = result.inference
        enrichment = self._enrich(post.fields)
        cluster, language = stages.annotate(post, enrichment)
        if not stages.reads(language.lang):
            prediction = stages.reclassify(post, language.lang, prediction)
        route = route_of(prediction)
        message = routed_message(
            post,
            prediction.as_dict(),
            route,
            utc_now_iso(),
            enrichment,
            language=language,
            cluster=cluster,
        )
        value = encode_json(message)
        topic = topic_for(self._prefix, route)
        return route, prediction, KafkaMessage(topic, post.id.encode(), value)


def _safe_post_letter(prefix: str, post: Post, reason: str, detail: str) -> KafkaMessage:
    """A dead letter for a parsed post; falls back to the bare Kafka coordinates if even its
    fields cannot be re-encoded (the original stays in the input topic)."""
    key = post.id.encode("utf-8", "backslashreplace")
    try:
        value = encode_json(post.fields)
    except (ValueError, TypeError) as exc:
        key = value = None
        detail = f"{detail}; its fields could not be re-encoded ({type(exc).__name__})"
    record = KafkaRecord(post.topic, post.partition, post.offset, key, value, post.timestamp_ms)
    return dead_letter_message(prefix, record, reason, detail)


def _failed_batch_to_dead_letters(prefix: str, failed: tuple[Any, Any]) -> Iterator[KafkaMessage]:
    """RunInference's failed batch → one dead letter per post.

    Beam's exception handling emits ``(batch, (exception type, repr, traceback lines))``.
    """
    batch, error = failed
    detail = (error[1] if isinstance(error, tuple) else repr(error))[:500]
    for post, _text in batch:
        yield _safe_post_letter(prefix, post, "inference_error", detail)


class TriagePosts(beam.PTransform):
    """KafkaRecords → KafkaMessages for the routed and dead-letter topics.

    Returns a dict of PCollections of KafkaMessage: ``routed``, ``dead_letters`` (contract
    violations), ``unroutable`` (posts whose routed message could not be built or is too
    large, as dead letters) and ``failed`` (posts whose model call failed, as dead letters).
    """

    def __init__(
        self,
        model_handler: KeyedModelHandler,
        output_prefix: str,
        *,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        metrics_port: int = 0,
        stages: PostStageOptions | None = None,
    ):
        super().__init__()
        self._stages = stages or PostStageOptions()
        self._handler = model_handler
        self._prefix = output_prefix
        self._max_text_chars = max_text_chars
        self._max_message_bytes = max_message_bytes
        self._metrics_port = metrics_port

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        prefix = self._prefix
        parsed = records | "Parse" >> beam.ParDo(
            ParsePosts(prefix, self._max_text_chars, self._metrics_port, self._max_message_bytes)
        ).with_outputs(DEAD_LETTERS_TAG, main="posts")
        classified, failed = (
            parsed.posts | "Classify" >> RunInference(self._handler).with_exception_handling()
        )
        routed = classified | "Route" >> beam.ParDo(RoutePosts(prefix, self._stages)).with_outputs(
            DEAD_LETTERS_TAG, main="routed"
        )
        failed_letters = failed.failed_inferences | "FailedToDLQ" >> beam.FlatMap(
            lambda failed_batch: _failed_batch_to_dead_letters(prefix, failed_batch)
        )
        # No Flatten: on FnApiRunner it ends the fused stage, and a stage downstream of an
        # unbounded source never runs. Each branch gets its own sink instead.
        return {
            "routed": routed.routed,
            "dead_letters": parsed[DEAD_LETTERS_TAG],
            "unroutable": routed[DEAD_LETTERS_TAG],
            "failed": failed_letters,
        }
