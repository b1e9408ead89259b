"""Beam PipelineOptions of the triage job (the same flags as `triage run`)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from models.errors import TriageError
from pipeline.job_args import add_job_arguments
from pipeline.kafka import add_kafka_arguments

LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner")
DEFAULT_RUNNER = "FnApiRunner"
REQUIRED = ("input_topic", "output_prefix", "group_id", "bootstrap_servers")


class TriageOptions(PipelineOptions):
    """The job's own options: topics, group, model, batching, limits, metrics, Kafka connection."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # noqa: ANN001 - Beam's parser type
        add_job_arguments(parser)
        add_kafka_arguments(parser, required=False)


def make_options(beam_args: list[str], job_values: dict) -> PipelineOptions:
    """PipelineOptions from Beam's own flags plus the parsed job flags.

    FnApiRunner is the local default. An unbounded run on a distributed runner (Flink,
    Dataflow, ...) gets ``--streaming``; FnApiRunner runs the unbounded source as it is.
    """
    options = PipelineOptions(beam_args, **job_values)
    job = options.view_as(TriageOptions)
    missing = [name for name in REQUIRED if not getattr(job, name, None)]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise TriageError(f"missing required flag(s): {flags}")
    if job.bounded and job.stop_after_idle:
        raise TriageError("--bounded and --stop-after-idle exclude each other: pick one")
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    if job.max_batch_wait and standard.runner in LOCAL_RUNNERS:
        raise TriageError(
            f"--max-batch-wait needs a distributed runner (Flink, Dataflow): on {standard.runner} "
            "batches form within a bundle instead"
        )
    unbounded = not job.bounded and job.stop_after_idle is None
    if unbounded and standard.runner not in LOCAL_RUNNERS:
        standard.streaming = True
    return options
