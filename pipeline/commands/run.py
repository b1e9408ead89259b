"""`triage run`: the streaming triage job (Kafka → Beam + ONNX → routed Kafka topics)."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from pipeline.job_args import add_job_arguments
from pipeline.kafka.config import add_kafka_arguments, settings_from_args

EPILOG = """\
Routed topics: PREFIX.requests, PREFIX.offers, PREFIX.support, PREFIX.other, PREFIX.review
(top probability below the model's threshold for its label, or a language no model reads) and
PREFIX.dlq (messages that break the post contract, with the reason and the original bytes).
Every routed message carries lang (the post's own, else identified) and its near-duplicate
cluster (cluster_id, cluster_size); posts the English model cannot read go to the shipped
multilingual model (--multilingual-model). Missing output topics are
created with the input topic's partition count. Offsets are committed after the routed
messages are acknowledged (at-least-once).

Unknown flags go to Apache Beam (FnApiRunner is the local default), e.g.
--runner=FlinkRunner --flink_master=HOST:8081, or --runner=DataflowRunner --project=P ...
(see deploy/flink/README.md).

Examples:
  triage run --bootstrap-servers localhost:9092 --input-topic posts \\
      --output-prefix triage --group-id triage-job --metrics-port 9108
  triage run --bootstrap-servers localhost:9092 --input-topic posts \\
      --output-prefix triage --group-id backfill --bounded --model triage-small
  # two machines share a 4-partition topic: replica 0 reads partitions 0 and 2, replica 1
  # reads 1 and 3 (same group; a restarted replica resumes its own partitions)
  triage run --bootstrap-servers kafka:9092 --input-topic posts --output-prefix triage \\
      --group-id triage-job --replicas 2 --replica 0 --metrics-port 9108
  triage run --bootstrap-servers localhost:9092 --input-topic posts --output-prefix triage \\
      --group-id triage-job --runner=FlinkRunner --flink_master=localhost:8081
  triage run --bootstrap-servers localhost:9092 --input-topic posts --output-prefix triage \\
      --group-id triage-job --multilingual-model none --dedup-window-hours 24
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the streaming triage job",
        description="Read crisis posts from Kafka, classify them with an ONNX model in an "
        "Apache Beam job, and route them to per-label Kafka topics.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    add_job_arguments(parser)
    add_kafka_arguments(parser, required=False)
    parser.set_defaults(func=run, pass_through=True)


def _job_values(args: argparse.Namespace) -> dict:
    """The parsed job flags as PipelineOptions keyword overrides (secrets stay out)."""
    skip = {"func", "command", "pass_through", "extra_args", "sasl_password_env"}
    return {k: v for k, v in vars(args).items() if k not in skip}


def run(args: argparse.Namespace) -> int:
    import logging

    settings = settings_from_args(args)
    from pipeline.job import routed_counts, run_job
    from pipeline.options import TriageOptions, make_options

    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    options = make_options(list(args.extra_args), _job_values(args))
    job = options.view_as(TriageOptions)
    # SIGTERM (e.g. from a supervisor) stops like Ctrl-C: no traceback, exit code 130.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    mode = "bounded" if job.bounded else "until idle" if job.stop_after_idle else "streaming"
    share = f", replica {job.replica} of {job.replicas}" if job.replicas > 1 else ""
    banner = (
        f"triage run: {job.input_topic} → {job.output_prefix}.* on {settings.bootstrap_servers} "
        f"({mode}, group {job.group_id}{share})"
    )
    start = time.monotonic()
    run_job(options, settings, on_start=lambda: print(banner, file=sys.stderr, flush=True))
    counts = routed_counts()
    total = sum(counts.values())
    elapsed = time.monotonic() - start
    summary = ", ".join(f"{route} {n}" for route, n in sorted(counts.items())) or "nothing"
    print(f"triage run: done, {total} posts in {elapsed:.1f} s ({summary})", file=sys.stderr)
    return 0
