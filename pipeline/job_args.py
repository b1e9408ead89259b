"""Flags of the triage job (plain argparse, no Beam import: `triage --help` stays fast).

Shared by `triage run` (its parser) and :class:`pipeline.options.TriageOptions` (Beam's parser),
so the flags have one definition.
"""

from __future__ import annotations

import argparse
import os

from pipeline.commands.arguments import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from pipeline.contract import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_TEXT_CHARS

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_RECORDS_PER_POLL = 500
DEFAULT_LINGER_MS = 5
DEFAULT_COMMIT_INTERVAL_S = 0.25
DEFAULT_COMMIT_RECORDS = 100
DEFAULT_DEDUP_WINDOW_HOURS = 6.0
DEFAULT_DEDUP_MAX_CLUSTERS = 50_000
DEFAULT_DEDUP_THRESHOLD = 0.6
DEFAULT_MULTILINGUAL = "default"  # the shipped models/multilingual/triage-multilingual


def default_threads() -> int:
    """Model threads for the job: every core but one (for the Kafka/Beam Python thread).

    Measured on 2 busy shared cores (triage-tiny, batch 32): 1 ONNX Runtime thread gave
    ~150 posts/s raw and ~146 through the job, 2 threads only ~72 and ~57 (ORT's spinning
    threads fight the job's Python thread and other processes for the cores).
    """
    return max(1, (os.cpu_count() or 2) - 1)


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the job's own flags (topics, model, batching, metrics); none is required here."""
    parser.add_argument("--input-topic", dest="input_topic", help="topic of the incoming posts")
    parser.add_argument(
        "--output-prefix",
        dest="output_prefix",
        help="routed topics are PREFIX.requests, .offers, .support, .other, .review, .dlq",
    )
    parser.add_argument("--group-id", dest="group_id", help="consumer group for offset commits")
    parser.add_argument(
        "--model",
        dest="model",
        default=None,
        help="model package folder, shipped model name, or a model repository REPO/<version>/ "
        "whose newest valid version is served and swapped in live (default: models/DEFAULT)",
    )
    parser.add_argument(
        "--model-poll-seconds",
        dest="model_poll_seconds",
        type=non_negative_float,
        default=30.0,
        metavar="SECONDS",
        help="with a model repository: look for a newer version every SECONDS and switch to it "
        "without a restart (0: never; default: 30)",
    )
    parser.add_argument(
        "--bounded",
        dest="bounded",
        action="store_true",
        default=False,
        help="read up to the end offsets seen at start, then stop (batch mode)",
    )
    parser.add_argument(
        "--stop-after-idle",
        dest="stop_after_idle",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="stop when no message arrived for SECONDS; a broker outage counts as idle time, so "
        "pick SECONDS longer than a broker restart (default: run until stopped)",
    )
    parser.add_argument(
        "--offset-reset",
        dest="offset_reset",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a group with no committed offset starts (default: earliest)",
    )
    parser.add_argument(
        "--replicas",
        dest="replicas",
        type=positive_int,
        default=1,
        metavar="N",
        help="how many copies of this job share the input topic (default: 1); with N > 1, "
        "each reads only its own partitions (see --replica)",
    )
    parser.add_argument(
        "--replica",
        dest="replica",
        type=non_negative_int,
        default=0,
        metavar="I",
        help="this copy's index, 0..N-1: it reads and commits the partitions p with "
        "p mod N = I (default: 0; a StatefulSet passes its pod ordinal)",
    )
    parser.add_argument(
        "--metrics-port",
        dest="metrics_port",
        type=non_negative_int,
        default=0,
        metavar="PORT",
        help="serve Prometheus /metrics on PORT (default: 0 = off)",
    )
    parser.add_argument(
        "--device",
        dest="device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="ONNX Runtime execution provider (default: cpu)",
    )
    parser.add_argument(
        "--threads",
        dest="threads",
        type=non_negative_int,
        default=None,
        help="ONNX Runtime intra-op threads (default: cores - 1, at least 1: one core is left "
        "to Kafka and Beam; 0 = ONNX Runtime's own default, all cores)",
    )
    parser.add_argument(
        "--batch-size",
        dest="batch_size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"posts per model call (default: {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--min-batch-size",
        dest="min_batch_size",
        type=positive_int,
        default=None,
        help="smallest batch RunInference forms before the bundle ends "
        "(default: --batch-size; smaller lets Beam adapt batch sizes)",
    )
    parser.add_argument(
        "--max-batch-wait",
        dest="max_batch_wait",
        type=positive_int,
        default=None,
        metavar="SECONDS",
        help="longest wait to fill a batch across bundles (stateful batching; distributed "
        "runners only: FnApiRunner fires its timers only when the source ends)",
    )
    parser.add_argument(
        "--max-text-chars",
        dest="max_text_chars",
        type=positive_int,
        default=DEFAULT_MAX_TEXT_CHARS,
        help=f"longer texts go to the dead-letter topic (default: {DEFAULT_MAX_TEXT_CHARS})",
    )
    parser.add_argument(
        "--max-message-bytes",
        dest="max_message_bytes",
        type=positive_int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="BYTES",
        help="larger messages go to the dead-letter topic with a preview, never whole "
        f"(default: {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--max-records-per-poll",
        dest="max_records_per_poll",
        type=positive_int,
        default=DEFAULT_MAX_RECORDS_PER_POLL,
        help=f"records fetched per poll (default: {DEFAULT_MAX_RECORDS_PER_POLL})",
    )
    parser.add_argument(
        "--commit-interval",
        dest="commit_interval",
        type=positive_float,
        default=DEFAULT_COMMIT_INTERVAL_S,
        metavar="SECONDS",
        help="a partition's offsets are committed (after its routed output is acknowledged) "
        "at least this often while it has traffic: a crash replays at most about this much "
        f"(default: {DEFAULT_COMMIT_INTERVAL_S})",
    )
    parser.add_argument(
        "--commit-records",
        dest="commit_records",
        type=positive_int,
        default=DEFAULT_COMMIT_RECORDS,
        metavar="N",
        help=f"... and at least every N records per partition (default: {DEFAULT_COMMIT_RECORDS})",
    )
    parser.add_argument(
        "--idempotent-writes",
        dest="idempotent_writes",
        action="store_true",
        default=False,
        help="idempotent producer (no duplicates from retries) for a real Kafka cluster; off by "
        "default because the embedded broker can lose writes it answers as duplicates after a "
        "restart (README, 'Delivery')",
    )
    parser.add_argument(
        "--linger-ms",
        dest="linger_ms",
        type=non_negative_int,
        default=DEFAULT_LINGER_MS,
        help=f"producer linger before sending a batch (default: {DEFAULT_LINGER_MS})",
    )
    add_post_stage_arguments(parser)


def add_post_stage_arguments(parser: argparse.ArgumentParser) -> None:
    """Language identification, the multilingual path and near-duplicate collapse."""
    parser.add_argument(
        "--no-language-id",
        dest="no_language_id",
        action="store_true",
        default=False,
        help="trust only the posts' own 'lang' field (posts without one go to the English model)",
    )
    parser.add_argument(
        "--multilingual-model",
        dest="multilingual_model",
        default=DEFAULT_MULTILINGUAL,
        metavar="DIR|default|none",
        help="package that classifies posts in languages the model cannot read (default: the "
        "shipped triage-multilingual); 'none' sends them to review with a reason",
    )
    parser.add_argument(
        "--no-dedup",
        dest="no_dedup",
        action="store_true",
        default=False,
        help="no near-duplicate clusters (cluster_id/cluster_size left out of routed messages)",
    )
    parser.add_argument(
        "--dedup-window-hours",
        dest="dedup_window_hours",
        type=positive_float,
        default=DEFAULT_DEDUP_WINDOW_HOURS,
        help="a cluster unseen this long expires (default: %(default)s)",
    )
    parser.add_argument(
        "--dedup-max-clusters",
        dest="dedup_max_clusters",
        type=positive_int,
        default=DEFAULT_DEDUP_MAX_CLUSTERS,
        help="clusters held at most; the least recently seen is evicted (default: %(default)s)",
    )
    parser.add_argument(
        "--dedup-threshold",
        dest="dedup_threshold",
        type=positive_float,
        default=DEFAULT_DEDUP_THRESHOLD,
        help="word-bigram Jaccard similarity from which two posts are one cluster "
        "(default: %(default)s)",
    )
