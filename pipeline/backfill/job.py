"""Run a backfill: plan chunks, check the model, run the Beam pipeline on Dask, merge, count.

The Beam graph is ``Create(chunks) → ParDo(ClassifyChunkFn)``: element-wise only, one Dask
partition per chunk so the scheduler spreads chunks over the workers as they free up.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from models.errors import TriageError
from models.package import ModelPackage, resolve_model
from models.runtime import OnnxClassifier, RuntimeOptions
from pipeline.backfill.chunk_fn import (
    DEAD_LETTER_PARTS_DIR,
    LABELS_DIR,
    ClassifyChunkFn,
    labels_path,
    write_parquet,
)
from pipeline.backfill.chunks import Chunk, expand_inputs, plan_chunks
from pipeline.backfill.cluster import DaskCluster, check_scheduler_reachable, dask_cluster
from pipeline.backfill.config import BackfillConfig
from pipeline.backfill.records import DEAD_LETTER_SCHEMA

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
MANIFEST = "_backfill.json"
DEAD_LETTERS_FILE = "dead_letters.parquet"
PROGRESS_POLL_S = 0.5


@dataclass(frozen=True)
class BackfillSummary:
    """What a finished backfill wrote."""

    output: Path
    model: str
    rows: int  # input rows, all chunks
    labelled: int
    dead_letters: int
    chunks: int
    chunks_run: int  # chunks processed by this run (fewer with --resume)
    workers: int
    seconds: float


def run_backfill(
    config: BackfillConfig,
    on_cluster: Callable[[DaskCluster, int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BackfillSummary:
    """Classify every row of ``config.inputs`` into ``config.output``.

    ``on_cluster(cluster, rows_to_do)`` is called once the cluster is up; ``on_progress(rows)``
    with the rows of newly finished chunks while the pipeline runs.
    """
    start = time.monotonic()
    files = expand_inputs(list(config.inputs))
    chunks = plan_chunks(files, config.chunk_rows, config.text_column, config.id_column)
    if not chunks:
        raise TriageError("the input files hold no rows")
    if config.scheduler:
        check_scheduler_reachable(config.scheduler)  # before anything is written
    package = _checked_model(config)
    config = replace(config, model=str(package.path))  # workers load the same folder
    output = Path(config.output)
    _prepare_output(output, config, package.model_id, files)
    todo = [c for c in chunks if not labels_path(output, c).exists()]
    workers = 0
    if todo:
        with dask_cluster(config.workers, config.scheduler, config.dashboard_address) as cluster:
            workers = cluster.workers
            if on_cluster is not None:
                on_cluster(cluster, sum(c.rows for c in todo))
            with _ProgressWatcher(output, todo, on_progress):
                _run_pipeline(todo, config, cluster.address)
    dead = _merge_dead_letters(output)
    labelled = _count_rows(output / LABELS_DIR)
    summary = BackfillSummary(
        output=output,
        model=package.model_id,
        rows=sum(c.rows for c in chunks),
        labelled=labelled,
        dead_letters=dead,
        chunks=len(chunks),
        chunks_run=len(todo),
        workers=workers,
        seconds=time.monotonic() - start,
    )
    _write_manifest(output, package.model_id, files, config, finished=summary)
    return summary


def _checked_model(config: BackfillConfig) -> ModelPackage:
    """The verified package, loaded into ONNX Runtime and run once here, at launch."""
    package = ModelPackage.load(resolve_model(config.model))
    OnnxClassifier(package, RuntimeOptions(intra_op_threads=config.threads)).self_test()
    return package


def _run_pipeline(chunks: list[Chunk], config: BackfillConfig, address: str) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(
        [
            f"--runner={DASK_RUNNER}",
            f"--dask_client_address={address}",
            f"--dask_npartitions={len(chunks)}",
        ]
    )
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline
        | "Chunks" >> beam.Create(chunks)
        | "ClassifyChunks" >> beam.ParDo(ClassifyChunkFn(config))
    )
    result = pipeline.run()
    try:
        result.wait_until_finish()
    finally:
        result.client.close()


def _manifest_identity(model_id: str, files: list[Path], config: BackfillConfig) -> dict:
    """What a resumed backfill must share with the first run."""
    return {
        "model": model_id,
        "inputs": [str(f) for f in files],
        "chunk_rows": config.chunk_rows,
        "text_column": config.text_column,
        "id_column": config.id_column,
    }


def _prepare_output(output: Path, config: BackfillConfig, model_id: str, files: list[Path]) -> None:
    """An empty (or new) folder, or with ``resume`` the folder of the same earlier backfill."""
    identity = _manifest_identity(model_id, files, config)
    if output.exists() and not output.is_dir():
        raise TriageError(f"--output {output} is a file: give a folder")
    if output.is_dir() and any(output.iterdir()):
        manifest = output / MANIFEST
        if not config.resume:
            raise TriageError(
                f"--output {output} is not empty: pass --resume to finish the backfill "
                "written there, or give a new folder"
            )
        if not manifest.is_file():
            raise TriageError(f"--resume: {output} holds no backfill ({MANIFEST} is missing)")
        earlier = json.loads(manifest.read_text(encoding="utf-8"))
        different = [k for k, v in identity.items() if earlier.get(k) != v]
        if different:
            raise TriageError(
                f"--resume: {output} was written with other {', '.join(different)} "
                f"({', '.join(f'{k}={earlier.get(k)!r}' for k in different)})"
            )
        return
    if not output.parent.is_dir():
        raise TriageError(f"--output {output}: folder {output.parent} does not exist")
    output.mkdir(exist_ok=True)
    _write_manifest(output, model_id, files, config, finished=None)


def _write_manifest(
    output: Path,
    model_id: str,
    files: list[Path],
    config: BackfillConfig,
    finished: BackfillSummary | None,
) -> None:
    manifest = _manifest_identity(model_id, files, config)
    if finished is not None:
        manifest.update(
            rows=finished.rows,
            labelled=finished.labelled,
            dead_letters=finished.dead_letters,
            chunks=finished.chunks,
        )
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _merge_dead_letters(output: Path) -> int:
    """Every chunk's dead letters (kept for --resume) → ``dead_letters.parquet``; its rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted((output / DEAD_LETTER_PARTS_DIR).glob("part-*.parquet"))
    tables = [pq.read_table(part, schema=DEAD_LETTER_SCHEMA) for part in parts]
    merged = pa.concat_tables(tables) if tables else DEAD_LETTER_SCHEMA.empty_table()
    write_parquet(merged, output / DEAD_LETTERS_FILE)
    return merged.num_rows


def _count_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in folder.glob("part-*.parquet"))


class _ProgressWatcher:
    """Reports the rows of chunks whose labelled file has appeared (polls the output folder)."""

    def __init__(
        self, output: Path, chunks: list[Chunk], on_progress: Callable[[int], None] | None
    ) -> None:
        self._pending = {labels_path(output, c).name: c.rows for c in chunks}
        self._folder = output / LABELS_DIR
        self._report = on_progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backfill-progress", daemon=True)

    def __enter__(self) -> _ProgressWatcher:
        if self._report is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._poll()  # the last chunks

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_POLL_S):
            self._poll()

    def _poll(self) -> None:
        if self._report is None or not self._folder.is_dir():
            return
        done = [name for name in self._pending if (self._folder / name).exists()]
        rows = sum(self._pending.pop(name) for name in done)
        if rows:
            self._report(rows)
