"""Beam PipelineOptions of the triage job (the same flags as `triage run`)."""

from __future__ import annotations

import difflib
import logging

from apache_beam.options.pipeline_options import (
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from models.errors import TriageError
from pipeline.job_args import add_job_arguments
from pipeline.kafka import add_kafka_arguments

LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner")
DEFAULT_RUNNER = "FnApiRunner"
REQUIRED = ("input_topic", "output_prefix", "group_id", "bootstrap_servers")
_LOGGER = logging.getLogger(__name__)


class TriageOptions(PipelineOptions):
    """The job's own options: topics, group, model, batching, limits, metrics, Kafka connection."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # noqa: ANN001 - Beam's parser type
        add_job_arguments(parser)
        add_kafka_arguments(parser, required=False)


def _all_options_parser() -> _BeamArgumentParser:
    """A parser that knows every flag of every PipelineOptions class (Beam's and ours)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    classes = {str(cls): cls for cls in PipelineOptions.__subclasses__()}
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own registration hook
    return parser


def check_beam_flags(beam_args: list[str]) -> list[str]:
    """Raise TriageError naming the first flag no Beam option knows, with a suggestion.

    Beam itself only logs a warning and drops such flags on a local runner, so a typo like
    ``--bouded`` would silently turn a bounded backfill into a job that streams forever.
    A distributed runner (Flink, Dataflow, ...) also receives flags that only its Java side
    knows (``--checkpointing_interval``): those pass unless they look like a typo of a known
    flag. Returns the flags passed through that way.
    """
    parser = _all_options_parser()
    parsed, unknown = parser.parse_known_args(beam_args)
    remote = (parsed.runner or DEFAULT_RUNNER) not in LOCAL_RUNNERS
    known = [option for action in parser._actions for option in action.option_strings]  # noqa: SLF001
    passed: list[str] = []
    for index, word in enumerate(unknown):
        if not word.startswith("-"):
            if remote and index and unknown[index - 1].startswith("--"):
                continue  # the value of a runner-side flag given as "--flag value"
            raise TriageError(f"unexpected argument {word!r} (flags start with --)")
        flag = word.split("=", 1)[0]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.85 if remote else 0.6)
        if remote and not close:
            passed.append(flag)
            continue
        hint = f": did you mean {close[0]}?" if close else " (see `triage run --help`)"
        raise TriageError(f"unknown flag {flag}{hint}")
    return passed


def make_options(beam_args: list[str], job_values: dict) -> PipelineOptions:
    """PipelineOptions from Beam's own flags plus the parsed job flags.

    FnApiRunner is the local default. An unbounded run on a distributed runner (Flink,
    Dataflow, ...) gets ``--streaming``; FnApiRunner runs the unbounded source as it is.
    A flag that neither the job nor Beam knows is an error on a local runner, and passed on to
    a distributed one unless it looks like a typo (see :func:`check_beam_flags`).
    """
    runner_side = check_beam_flags(beam_args)
    if runner_side:
        _LOGGER.warning("passed to the runner as is: %s", " ".join(runner_side))
    options = PipelineOptions(beam_args, **job_values)
    job = options.view_as(TriageOptions)
    missing = [name for name in REQUIRED if not getattr(job, name, None)]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise TriageError(f"missing required flag(s): {flags}")
    if job.replica >= job.replicas:
        raise TriageError(
            f"--replica {job.replica} is out of range for --replicas {job.replicas} "
            f"(use 0..{job.replicas - 1})"
        )
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
