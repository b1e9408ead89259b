"""`triage backfill`: classify archived post files into Parquet on Beam's Dask runner."""

from __future__ import annotations

import argparse
import sys

from pipeline.commands.arguments import positive_int

EPILOG = """\
Output folder:
  labels/part-FFFF-CCCCC.parquet  one file per input chunk: id, text, label, probabilities,
                                  route, review_reason, model_name, model_version, enrichment
                                  (resources, location), event, created_at, lang, source_file,
                                  source_row
  dead_letters.parquet            rows that break the post contract (or fail), with reason,
                                  detail and the raw row (per-chunk parts in _dead_letters/)
  _backfill.json                  model, inputs and counts (--resume checks it)

Without --dask-scheduler a local Dask cluster of --workers processes is started; its dashboard
address is printed. With --dask-scheduler, every worker needs crisis-triage installed and must
see the input files, the model folder and the output folder at the same paths (shared storage).

Examples:
  triage backfill --input '../shared/data/humaid/*.csv' --output runs/humaid-labels
  triage backfill --input 'archive/2026-*/*.jsonl' --output runs/archive --workers 4 \\
      --model triage-small
  triage backfill --input 'archive/*.parquet' --output /shared/out \\
      --dask-scheduler tcp://scheduler:8786
  triage backfill --input 'archive/*.parquet' --output /shared/out --resume   # after a stop
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.backfill.chunks import DEFAULT_CHUNK_ROWS
    from pipeline.backfill.config import DEFAULT_DASHBOARD, default_workers

    parser = subparsers.add_parser(
        "backfill",
        help="classify archived post files into Parquet (Beam on Dask)",
        description="Classify every post of JSON Lines, CSV or Parquet files with the same "
        "model, routing and enrichment as the streaming job, on Apache Beam's Dask runner, "
        "into partitioned Parquet files plus a dead-letter Parquet file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="GLOB",
        help="input files (.jsonl, .csv, .parquet); a glob, quoted; repeat for more",
    )
    parser.add_argument("--output", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--model", default=None, help="model package (default: models/DEFAULT)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=default_workers(),
        help=f"local Dask worker processes (default: cores = {default_workers()})",
    )
    parser.add_argument(
        "--dask-scheduler",
        metavar="tcp://HOST:PORT",
        default=None,
        help="use a running Dask cluster instead of starting a local one",
    )
    parser.add_argument(
        "--dashboard-address",
        default=DEFAULT_DASHBOARD,
        metavar="[HOST]:PORT",
        help=f"local cluster's dashboard (default: {DEFAULT_DASHBOARD}; :0 = any free port)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="ONNX Runtime threads per worker (default: 1)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, help="posts per model call (default: 8)"
    )
    parser.add_argument(
        "--chunk-rows",
        type=positive_int,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows per task and per output file (default: {DEFAULT_CHUNK_ROWS})",
    )
    parser.add_argument("--text-column", default="text", help="text column/field (default: text)")
    parser.add_argument("--id-column", default=None, help="id column/field (default: id or row)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue a backfill into the same --output: finished chunks are kept",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import os

    from tqdm import tqdm

    # Dask reads its log levels from the environment at import, here and in spawned workers.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")

    from pipeline.backfill.config import BackfillConfig
    from pipeline.backfill.job import run_backfill

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    config = BackfillConfig(
        inputs=tuple(args.input),
        output=args.output,
        model=args.model,
        workers=args.workers,
        scheduler=args.dask_scheduler,
        dashboard_address=args.dashboard_address,
        threads=args.threads,
        batch_size=args.batch_size,
        chunk_rows=args.chunk_rows,
        text_column=args.text_column,
        id_column=args.id_column,
        resume=args.resume,
    )
    bar: list[tqdm] = []

    def on_cluster(cluster, rows: int) -> None:  # noqa: ANN001 - DaskCluster
        kind = "local cluster" if cluster.local else "cluster"
        dashboard = cluster.dashboard or "none (install bokeh for the Dask dashboard)"
        print(
            f"triage backfill: {rows} rows on a {kind} of {cluster.workers} Dask workers at "
            f"{cluster.address}; dashboard: {dashboard}",
            file=sys.stderr,
            flush=True,
        )
        if not args.no_progress:
            bar.append(tqdm(total=rows, unit="post", file=sys.stderr, desc="backfill"))

    def on_progress(rows: int) -> None:
        if bar:
            bar[0].update(rows)

    try:
        summary = run_backfill(config, on_cluster, on_progress)
    finally:
        if bar:
            bar[0].close()
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    resumed = (
        ""
        if summary.chunks_run == summary.chunks
        else (
            f", {summary.chunks - summary.chunks_run} of {summary.chunks} chunks kept from before"
        )
    )
    print(
        f"triage backfill: {summary.rows} rows → {summary.labelled} labelled + "
        f"{summary.dead_letters} dead letters in {summary.output} in {summary.seconds:.1f} s "
        f"({rate:.0f} rows/s) with {summary.model}{resumed}",
        file=sys.stderr,
    )
    return 0
