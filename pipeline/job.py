"""The streaming triage job: ReadFromKafka → parse → RunInference (ONNX) → route → WriteToKafka."""

from __future__ import annotations

from collections.abc import Callable

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler
from apache_beam.options.pipeline_options import PipelineOptions

from models.errors import TriageError
from models.package import ModelPackage
from pipeline import metrics
from pipeline.inference import build_model_handler, publish_model_info
from pipeline.job_args import default_threads
from pipeline.kafka import (
    KafkaSettings,
    ReadFromKafka,
    WriteToKafka,
    ensure_topics,
    partition_count,
)
from pipeline.kafka.clients import check_reachable
from pipeline.kafka.replicas import owned_partitions
from pipeline.options import TriageOptions
from pipeline.post_stages import DEFAULT_MODEL_LANGUAGES, PostStageOptions, PostStages
from pipeline.routing import output_topics
from pipeline.transforms import TriagePosts


def prepare_topics(settings: KafkaSettings, input_topic: str, output_prefix: str) -> int:
    """Check the input topic exists; create missing output topics with its partition count.

    Returns the input topic's partition count.
    """
    partitions = partition_count(settings, input_topic)
    if partitions is None:
        raise TriageError(
            f"input topic {input_topic!r} does not exist on {settings.bootstrap_servers} "
            "(create it, or produce to it first with `triage replay`)"
        )
    ensure_topics(settings, output_topics(output_prefix), partitions)
    return partitions


def model_handler_for(job: TriageOptions) -> tuple[KeyedModelHandler, ModelPackage]:
    """The job's model handler; the package is loaded and verified here, at launch."""
    return build_model_handler(
        job.model,
        batch_size=job.batch_size,
        min_batch_size=job.min_batch_size,
        threads=default_threads() if job.threads is None else job.threads,
        device=job.device,
        max_batch_wait_s=job.max_batch_wait,
        poll_s=job.model_poll_seconds,
    )


def post_stage_options(job: TriageOptions, package: ModelPackage) -> PostStageOptions:
    """Language id, multilingual path and near-duplicate settings from the job's flags."""
    from models.multilingual import resolve_multilingual
    from pipeline.near_duplicates import DuplicateOptions

    duplicates = None
    if not job.no_dedup:
        duplicates = DuplicateOptions(
            threshold=job.dedup_threshold,
            window_s=job.dedup_window_hours * 3600.0,
            max_clusters=job.dedup_max_clusters,
        )
    return PostStageOptions(
        language_id=not job.no_language_id,
        model_languages=tuple(package.extra.get("languages", DEFAULT_MODEL_LANGUAGES)),
        multilingual_model=resolve_multilingual(job.multilingual_model),
        duplicates=duplicates,
    )


def build_pipeline(
    pipeline: beam.Pipeline,
    job: TriageOptions,
    settings: KafkaSettings,
    model: tuple[KeyedModelHandler, ModelPackage] | None = None,
) -> None:
    """Add the job's transforms to ``pipeline``: read, parse, classify, route, write."""
    handler, package = model or model_handler_for(job)
    publish_model_info(package)
    outputs = (
        pipeline
        | "ReadPosts"
        >> ReadFromKafka(
            settings,
            job.input_topic,
            job.group_id,
            offset_reset=job.offset_reset,
            bounded=job.bounded,
            stop_after_idle_s=job.stop_after_idle,
            max_records_per_poll=job.max_records_per_poll,
            max_read_s=job.commit_interval,
            max_read_records=job.commit_records,
            replicas=job.replicas,
            replica=job.replica,
        )
        | "Triage"
        >> TriagePosts(
            handler,
            job.output_prefix,
            max_text_chars=job.max_text_chars,
            max_message_bytes=job.max_message_bytes,
            metrics_port=job.metrics_port,
            stages=post_stage_options(job, package),
        )
    )
    for name, messages in outputs.items():
        write = WriteToKafka(settings, linger_ms=job.linger_ms, idempotent=job.idempotent_writes)
        _ = messages | f"Write_{name}" >> write


def run_job(
    options: PipelineOptions,
    settings: KafkaSettings,
    on_start: Callable[[], None] | None = None,
) -> None:
    """Load the model, prepare topics, serve metrics, then run the job until it ends.

    ``on_start`` is called once every check passed, just before the pipeline runs.
    """
    job = options.view_as(TriageOptions)
    model = model_handler_for(job)  # a bad model fails before any Kafka traffic
    # Language id and the multilingual encoder load here, once per process (FnApiRunner's
    # workers share them), so their seconds of start-up are not paid by the first posts.
    PostStages(post_stage_options(job, model[1])).load()
    check_reachable(settings)  # a wrong address: one line at once, not bootstrap retries
    partitions = prepare_topics(settings, job.input_topic, job.output_prefix)
    owned = owned_partitions(partitions, job.replicas, job.replica)  # fails before serving
    metrics.publish_replica(job.replica, job.replicas, owned)
    try:
        metrics.start_metrics_server(job.metrics_port)
    except OSError as exc:
        port = job.metrics_port
        raise TriageError(f"--metrics-port {port}: {exc.strerror}; pick another") from exc
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job, settings, model)
    if on_start is not None:
        on_start()
    result = pipeline.run()
    result.wait_until_finish()


def routed_counts() -> dict[str, int]:
    """Posts routed per route and dead letters so far in this process (from the metrics)."""
    counts: dict[str, int] = {}
    for family, label in ((metrics.POSTS_ROUTED, "route"), (metrics.DEAD_LETTERS, None)):
        for metric in family.collect():
            for sample in metric.samples:
                if not sample.name.endswith("_total"):
                    continue
                key = sample.labels[label] if label else "dlq"
                counts[key] = counts.get(key, 0) + int(sample.value)
    return counts
