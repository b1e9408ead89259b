"""CPU throughput of every model side by side, on the same real tweets, in one run.

Each model runs in its own fresh (spawned) process, one after another, so thread settings,
allocator state and peak RSS belong to that model alone. In a process: load, warm up (two
batches), then ``repeats`` timed passes over the same ``posts`` texts, fed in micro-batches of
``b`` posts (texts → probabilities, tokenization included); the median pass gives posts/s.

With ``rounds`` > 1 the whole list of models runs that many times in turn (round-robin), so a
slow spell of a shared machine hits every model instead of one: a model's posts/s is the median
over rounds, and each ratio (× teacher, × pipeline) is the median of the per-round ratios.
Nothing else should be running: on a shared box, numbers are only comparable within one run.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from models.errors import TriageError

HUMAID_CSV = Path("humaid_maria") / "humaid_maria.csv"


@dataclass(frozen=True)
class Spec:
    """One model to time: a path and how to run it (see ``predictors.load_predictor``)."""

    path: str
    kind: str  # onnx | pytorch | pipeline
    role: str  # teacher | student | baseline


def benchmark_texts(data_dir: str | Path, posts: int, seed: int = 0) -> list[str]:
    """``posts`` tweets drawn (seeded) from the HumAID Maria test split, read at run time, in
    the model-facing form (``distill.normalize.normalize_text``, as in training and evaluation)."""
    import polars as pl

    from distill.normalize import normalize_text

    csv = Path(data_dir) / HUMAID_CSV
    if not csv.is_file():
        raise TriageError(
            f"{csv} not found: pass --data DIR (the shared data folder with humaid_maria/)"
        )
    texts = pl.read_csv(csv).filter(pl.col("split") == "test")["text"].to_list()
    if len(texts) < posts:
        raise TriageError(f"{csv} has only {len(texts)} test posts; ask for --posts ≤ {len(texts)}")
    return [normalize_text(t) for t in random.Random(seed).sample(texts, posts)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def time_predictor(
    spec: Spec, texts: Sequence[str], batch_sizes: Sequence[int], repeats: int, threads: int
) -> dict[str, Any]:
    """Load one model and time it at each batch size (runs inside the child process)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from distill.predictors import display_path, load_predictor

    started = time.perf_counter()
    predictor = load_predictor(spec.path, spec.kind, threads=threads, batch_size=max(batch_sizes))
    load_s = time.perf_counter() - started
    rss_loaded = _peak_rss_mb()
    throughput, passes = {}, {}
    for size in batch_sizes:
        chunks = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
        for chunk in chunks[:2]:  # warm-up: first runs allocate and pick kernels
            predictor.predict_proba(chunk)
        seconds = []
        for _ in range(repeats):
            begin = time.perf_counter()
            for chunk in chunks:
                predictor.predict_proba(chunk)
            seconds.append(time.perf_counter() - begin)
        throughput[str(size)] = len(texts) / statistics.median(seconds)
        passes[str(size)] = [round(s, 4) for s in seconds]
    return {
        **asdict(spec),
        "path": display_path(spec.path),
        "name": predictor.name,
        "sha256": predictor.identity,
        "model_bytes": predictor.model_bytes,
        "load_s": round(load_s, 2),
        "posts_per_s": {k: round(v, 2) for k, v in throughput.items()},
        "pass_seconds": passes,
        "rss_after_load_mb": round(rss_loaded, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _in_child(spec: Spec, texts, batch_sizes, repeats, threads) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(
            time_predictor, spec, list(texts), list(batch_sizes), repeats, threads
        ).result()


def _mean_tokens(texts: Sequence[str]) -> float | None:
    try:
        from tokenizers import Tokenizer

        from distill.base_models import minilm_path

        tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    except (TriageError, OSError):
        return None
    tokenizer.no_padding()  # the shipped tokenizer.json pads to a fixed length
    return round(statistics.mean(len(e.ids) for e in tokenizer.encode_batch(list(texts))), 1)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Add ``x_teacher`` / ``x_pipeline``: posts/s relative to teacher PyTorch and pipeline."""
    teacher = next((r for r in rows if r["role"] == "teacher" and r["kind"] == "pytorch"), None)
    pipeline = next((r for r in rows if r["kind"] == "pipeline"), None)
    for row in rows:
        for key, ref in (("x_teacher", teacher), ("x_pipeline", pipeline)):
            row[key] = {
                size: round(speed / ref["posts_per_s"][size], 2)
                for size, speed in row["posts_per_s"].items()
                if ref is not None and ref["posts_per_s"].get(size)
            }


def merge_rounds(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per model from several round-robin rounds (each round's rows carry its ratios):
    posts/s and ratios are medians over rounds; every timed pass is kept."""
    merged = []
    for per_round in zip(*rounds, strict=True):
        row = dict(per_round[0])
        for key in ("posts_per_s", "x_teacher", "x_pipeline"):
            row[key] = {
                size: round(statistics.median(r[key][size] for r in per_round), 2)
                for size in per_round[0][key]
                if all(size in r[key] for r in per_round)
            }
        row["round_posts_per_s"] = {
            size: [r["posts_per_s"][size] for r in per_round]
            for size in per_round[0]["posts_per_s"]
        }
        row["pass_seconds"] = {
            size: [s for r in per_round for s in r["pass_seconds"][size]]
            for size in per_round[0]["pass_seconds"]
        }
        row["load_s"] = round(statistics.median(r["load_s"] for r in per_round), 2)
        row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in per_round)
        merged.append(row)
    return merged


def run_benchmark(
    specs: Sequence[Spec],
    texts: Sequence[str],
    *,
    batch_sizes: Sequence[int] = (1, 8, 32),
    repeats: int = 5,
    rounds: int = 1,
    threads: int = 2,
    isolate: bool = True,
    progress: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """Time every spec on ``texts`` (``rounds`` times, round-robin); returns the JSON-ready
    result (rows in spec order)."""
    from tqdm import tqdm

    if repeats < 1 or rounds < 1 or not batch_sizes or not texts:
        raise TriageError(
            "benchmark needs repeats ≥ 1, rounds ≥ 1, at least one batch size and some texts"
        )
    run = _in_child if isolate else time_predictor
    bar = tqdm(total=len(specs) * rounds, desc="benchmark", unit="model", disable=not progress)
    per_round = []
    for _ in range(rounds):
        rows = []
        for spec in specs:
            rows.append(run(spec, texts, batch_sizes, repeats, threads))
            bar.update()
        add_ratios(rows)
        per_round.append(rows)
    bar.close()
    rows = merge_rounds(per_round)
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "machine": {
            "cpu": _cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "threads": threads,
        "posts": len(texts),
        "mean_chars": round(statistics.mean(len(t) for t in texts), 1),
        "mean_tokens": _mean_tokens(texts),
        "repeats": repeats,
        "rounds": rounds,
        "batch_sizes": list(batch_sizes),
        "plot_batch_size": 32 if 32 in batch_sizes else max(batch_sizes),
        "rows": rows,
    }


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path
