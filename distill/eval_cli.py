"""``triage distill evaluate`` and ``triage distill benchmark`` (registered by distill/cli.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from models.errors import TriageError

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEED_JSON = REPO_ROOT / "benchmarks" / "models.json"
RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
PLOT_PNG = REPO_ROOT / "benchmarks" / "models_accuracy_speed.png"
RUNS_DIR = REPO_ROOT / "runs"
EVAL_DIR = RUNS_DIR / "eval"
LOCO_EVAL_DIR = RUNS_DIR / "eval-loco"
DEFAULT_TEACHER = RUNS_DIR / "teacher" / "model"
DEFAULT_TEACHER_ONNX = RUNS_DIR / "teacher" / "package"

EVALUATE_EPILOG = """\
Examples:
  triage distill evaluate                                  # every shipped package, all test sets
  triage distill evaluate --models models/triage-small --teacher runs/teacher/model
  triage distill evaluate --limit 200 --out /tmp/eval      # quick look on 200 posts per set
  triage distill evaluate --folds events                   # leave-one-crisis-out (runs/data-loco)
  triage distill evaluate --folds events --fold kerala_floods_2018 --models triage-tiny
  triage distill evaluate --folds events --review-floor-reach 0.9   # + floor chosen on dev crises

Writes OUT/eval.json, OUT/eval.md (rows = models, columns = test sets, macro-F1),
OUT/confusion/*.png; predictions are cached in OUT/cache (by weights sha256 and texts), so a
rerun only re-scores. With benchmark results present it also refreshes the accuracy-speed plot,
the "Models: accuracy and speed" section of benchmarks/RESULTS.md and the model cards.

--folds events scores the leave-one-crisis-out folds of `triage distill prepare --loco`
instead: OUT (default runs/eval-loco)/loco.json, loco.md, pr_request.png, pr_offer.png; a fold
whose crisis is in a model's training data is left out with a note (an error when named with
--fold). It rewrites only the leave-one-crisis-out section of RESULTS.md (plots copied next to
it as loco_pr_<label>.png), never the other tables. With --review-floor-reach R it also
chooses each model's request review floor (reach >= R) on the pooled posts of the dev crises of
`prepare --loco` (test/loco-dev/, never a fold) and scores every fold again at the shipped
thresholds plus that floor; --write-floor-package DIR writes DIR/<model> with it in triage.json
(version bumped 1.4.0 → 1.5.0, the rule and its numbers in the model card): a package to ship.
"""

BENCHMARK_EPILOG = """\
Examples:
  triage distill benchmark --teacher runs/teacher/model    # teacher vs every shipped package
  triage distill benchmark --batch-sizes 32 --repeats 5    # quicker: one batch size
  triage distill benchmark --posts 128 --rounds 3 --repeats 3  # as in benchmarks/RESULTS.md
  triage distill benchmark --models models/triage-small --pipeline-model runs/students/small/final

Each model runs alone in a fresh process (2 threads by default) on the same real tweets from the
HumAID test split; stop other heavy work first, shared cores make the numbers meaningless.
On a VM whose speed drifts, --rounds N runs all models N times in turn and reports medians of
the per-round ratios.
"""


def _add_teacher_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help=f"teacher Hugging Face PyTorch folder (default: {DEFAULT_TEACHER} if present)",
    )
    parser.add_argument("--no-teacher", action="store_true", help="leave the teacher out")


def teacher_folder(args: argparse.Namespace) -> Path | None:
    """``--teacher``, else the default teacher run's folder if it exists (not with --no-teacher)."""
    if args.no_teacher:
        return None
    if args.teacher is not None:
        return args.teacher
    return DEFAULT_TEACHER if (DEFAULT_TEACHER / "config.json").is_file() else None


def _add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results-md",
        type=Path,
        default=RESULTS_MD,
        help="markdown file whose 'Models: accuracy and speed' section is rewritten",
    )
    parser.add_argument("--plot", type=Path, default=PLOT_PNG, help="accuracy-speed plot PNG")
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="only write the results files; leave RESULTS.md and model cards alone",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per model (default 2)")


def register(distill_subparsers) -> None:
    """Add ``evaluate`` and ``benchmark`` to the ``triage distill`` subparsers."""
    fmt = argparse.RawDescriptionHelpFormatter
    evaluate = distill_subparsers.add_parser(
        "evaluate",
        help="macro-F1 of models on the held-out test sets",
        description="Score model packages (and the teacher) on every test set.",
        formatter_class=fmt,
        epilog=EVALUATE_EPILOG,
    )
    evaluate.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="model packages or Hugging Face folders (default: all shipped)",
    )
    _add_teacher_arguments(evaluate)
    evaluate.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default {EVAL_DIR}; {LOCO_EVAL_DIR} with --folds events)",
    )
    evaluate.add_argument(
        "--folds",
        choices=("sets", "events"),
        default="sets",
        help="sets: the held-out test sets (default); events: leave-one-crisis-out folds",
    )
    evaluate.add_argument(
        "--fold",
        nargs="+",
        default=None,
        metavar="EVENT",
        help="with --folds events: only these folds (an error if a model trained on one)",
    )
    evaluate.add_argument(
        "--review-floor-reach",
        type=float,
        default=None,
        metavar="R",
        help="with --folds events: also choose each model's request review floor so that >= R "
        "of the true requests of the dev crises reach requests or review, and score it",
    )
    evaluate.add_argument(
        "--write-floor-package",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --review-floor-reach: write DIR/<model>, a copy of each package with the "
        "chosen floor in its triage.json",
    )
    evaluate.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="shared data, read for models prepared from the legacy sources ($TRIAGE_DATA)",
    )
    evaluate.add_argument(
        "--limit",
        type=int,
        default=None,
        help="score a seeded sample of at most N posts per test set",
    )
    evaluate.add_argument(
        "--prepared",
        type=Path,
        default=None,
        help="prepared data folder from `triage distill prepare` (default: runs/data; "
        "runs/data-loco with --folds events)",
    )
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--no-cache", action="store_true", help="recompute all predictions")
    evaluate.add_argument(
        "--speed",
        type=Path,
        default=SPEED_JSON,
        help="benchmark results JSON for the accuracy-speed plot",
    )
    _add_publish_arguments(evaluate)
    evaluate.set_defaults(func=run_evaluate)

    bench = distill_subparsers.add_parser(
        "benchmark",
        help="posts/s of teacher, students and a plain transformers pipeline",
        description="Time every model side by side on the same real tweets (CPU).",
        formatter_class=fmt,
        epilog=BENCHMARK_EPILOG,
    )
    bench.add_argument(
        "--models", nargs="+", default=None, help="ONNX model packages (default: all shipped)"
    )
    _add_teacher_arguments(bench)
    bench.add_argument(
        "--teacher-onnx",
        type=Path,
        default=None,
        help="teacher ONNX fp32 package or export folder (default: runs/teacher/package if "
        "present and the teacher is timed)",
    )
    bench.add_argument(
        "--pipeline-model",
        type=Path,
        default=None,
        help="Hugging Face folder for the transformers-pipeline baseline (default: the default "
        "package's training run folder runs/<training_config.name>/model)",
    )
    bench.add_argument(
        "--no-pipeline", action="store_true", help="leave the transformers-pipeline baseline out"
    )
    bench.add_argument("--posts", type=int, default=64, help="tweets per timed pass (default 64)")
    bench.add_argument("--repeats", type=int, default=5, help="timed passes; median (default 5)")
    bench.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run all models this many times in turn; medians over rounds (default 1)",
    )
    bench.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    bench.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="shared data folder with humaid_maria/ (default: $TRIAGE_DATA or ../shared/data)",
    )
    bench.add_argument("--json", type=Path, default=SPEED_JSON, help=f"results JSON ({SPEED_JSON})")
    bench.add_argument(
        "--eval",
        type=Path,
        default=EVAL_DIR / "eval.json",
        help="evaluation results to join for the plot and RESULTS.md",
    )
    _add_publish_arguments(bench)
    bench.set_defaults(func=run_benchmark)


def _command_line() -> str:
    """The command as typed: ``triage distill …`` or ``.venv/bin/python benchmarks/models.py …``."""
    if Path(sys.argv[0]).name == "triage":
        return shlex.join(["triage", *sys.argv[1:]])
    python = Path(sys.executable)
    if python.is_relative_to(REPO_ROOT):
        python = python.relative_to(REPO_ROOT)
    return shlex.join([str(python), sys.argv[0], *sys.argv[1:]])


def _load_json(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _default_models(models: list[str] | None) -> list[Path]:
    from models.package import available_models, resolve_model

    if models:
        return [resolve_model(m) for m in models]
    names = available_models()
    if not names:
        raise TriageError("no model package is shipped in models/: pass --models DIR ...")
    return [resolve_model(n) for n in names]


def load_test_sets(prepared: Path | None, limit: int | None) -> dict:
    """``distill.splits.test_sets()`` (built by ``triage distill prepare``), optionally sampled."""
    from distill.splits import DATA_DIR, test_sets

    sets = test_sets(prepared or DATA_DIR)
    if limit:
        sets = {k: v.sample(n=min(limit, v.height), seed=0) for k, v in sets.items()}
    return sets


def _publish(args, speed: dict | None, evaluation: dict | None) -> None:
    if args.no_publish:
        return
    from distill.eval_report import publish

    done = publish(speed, evaluation, args.results_md, args.plot)
    for key, value in done.items():
        print(f"{key}: {value}")


def run_evaluate(args: argparse.Namespace) -> int:
    from distill.evaluate import evaluate

    if args.folds == "events":
        return run_loco_evaluate(args)
    if args.fold or args.review_floor_reach is not None:
        raise TriageError("--fold and --review-floor-reach need --folds events")
    out = args.out or EVAL_DIR
    models = _default_models(args.models)
    sets = load_test_sets(args.prepared, args.limit)
    results = evaluate(
        models,
        sets,
        out,
        teacher=teacher_folder(args),
        threads=args.threads,
        batch_size=args.batch_size,
        use_cache=not args.no_cache,
        speed_json=args.speed,
        command=_command_line(),
    )
    print((out / "eval.md").read_text(encoding="utf-8"))
    print(f"wrote {out / 'eval.json'}")
    _publish(args, _load_json(args.speed), results)
    return 0


def load_folds(prepared: Path | None, names: list[str] | None, limit: int | None):
    """The LOCO folds of a prepared layout (``--fold`` names only), optionally sampled."""
    from distill.folds import fold_sets
    from distill.splits import LOCO_DATA_DIR

    frames, info = fold_sets(prepared or LOCO_DATA_DIR)
    if names:
        unknown = sorted(set(names) - set(frames))
        if unknown:
            raise TriageError(f"no fold {unknown[0]!r}: the folds are {', '.join(frames)}")
        frames = {name: frames[name] for name in names}
        info = {name: info[name] for name in names}
    if limit:
        frames = {k: v.sample(n=min(limit, v.height), seed=0) for k, v in frames.items()}
    return frames, info


def load_dev_crises(prepared: Path, reach: float | None, limit: int | None):
    """The dev crises of a prepared LOCO layout when a review floor is to be chosen."""
    from distill.folds import dev_crisis_sets

    if reach is None:
        return {}, {}
    if not 0.0 < reach <= 1.0:
        raise TriageError(f"--review-floor-reach must be in (0, 1], got {reach}")
    frames, info = dev_crisis_sets(prepared)
    if limit:
        frames = {k: v.sample(n=min(limit, v.height), seed=0) for k, v in frames.items()}
    return frames, info


def _write_floor_packages(results: dict, out_dir: Path) -> None:
    """A copy of each scored package with its chosen review floor (HF folders are skipped)."""
    from distill.floor_package import write_floor_package

    for model in results["models"]:
        if model["kind"] != "onnx":
            print(f"note: {model['name']} is not a model package: no floor package written")
            continue
        package = write_floor_package(Path(model["path"]), model["chosen_floor"], out_dir)
        print(f"wrote {package} (review floors {model['chosen_floor']['review_floors']})")


def run_loco_evaluate(args: argparse.Namespace) -> int:
    """``evaluate --folds events``: leave-one-crisis-out scores of the teacher and students."""
    from distill.loco_eval import LocoRun, evaluate_folds
    from distill.loco_report import publish_loco
    from distill.predictors import display_path
    from distill.splits import LOCO_DATA_DIR

    prepared = args.prepared or LOCO_DATA_DIR
    frames, info = load_folds(prepared, args.fold, args.limit)
    dev_frames, dev_info = load_dev_crises(prepared, args.review_floor_reach, args.limit)
    if args.write_floor_package and args.review_floor_reach is None:
        raise TriageError("--write-floor-package needs --review-floor-reach")
    run = LocoRun(
        folds=frames,
        fold_info=info,
        out_dir=args.out or LOCO_EVAL_DIR,
        explicit=bool(args.fold),
        threads=args.threads,
        batch_size=args.batch_size,
        use_cache=not args.no_cache,
        data_root=str(args.data_dir) if args.data_dir else None,
        log=lambda line: print(line, file=sys.stderr),
        dev_crises=dev_frames,
        dev_info=dev_info,
        review_floor_reach=args.review_floor_reach,
    )
    results = evaluate_folds(
        _default_models(args.models),
        run,
        teacher=teacher_folder(args),
        prepared=display_path(prepared),
        command=_command_line(),
    )
    print((run.out_dir / "loco.md").read_text(encoding="utf-8"))
    print(f"wrote {run.out_dir / 'loco.json'}")
    if args.write_floor_package:
        _write_floor_packages(results, args.write_floor_package)
    if not args.no_publish:
        for key, value in publish_loco(results, run.out_dir, args.results_md).items():
            print(f"{key}: {value}")
    return 0


def pipeline_source(package_dir: Path) -> Path | None:
    """The Hugging Face fp32 folder a package was exported from: ``runs/<run name>/model``, the
    run named by ``training_config.name`` in its triage.json (None when that folder is gone)."""
    meta = _load_json(package_dir / "triage.json") or {}
    name = (meta.get("training_config") or {}).get("name")
    folder = RUNS_DIR / str(name) / "model" if name else None
    return folder if folder is not None and (folder / "config.json").is_file() else None


def benchmark_specs(args: argparse.Namespace) -> list:
    from distill.benchmark import Spec
    from models.package import default_model_path

    specs = []
    teacher = teacher_folder(args)
    if teacher is not None:
        specs.append(Spec(str(teacher), "pytorch", "teacher"))
    teacher_onnx = args.teacher_onnx
    if (
        teacher_onnx is None
        and teacher is not None
        and (DEFAULT_TEACHER_ONNX / "model.onnx").is_file()
    ):
        teacher_onnx = DEFAULT_TEACHER_ONNX
    if teacher_onnx is not None:
        specs.append(Spec(str(teacher_onnx), "onnx", "teacher"))
    specs += [Spec(str(p), "onnx", "student") for p in _default_models(args.models)]
    if args.no_pipeline:
        return specs
    folder = args.pipeline_model
    if folder is None:
        try:
            folder = pipeline_source(default_model_path())
        except TriageError:
            folder = None
    if folder is not None:
        specs.append(Spec(str(folder), "pipeline", "baseline"))
    else:
        print(
            "note: no --pipeline-model and no runs/<name>/model folder for the default package: "
            "skipping the transformers-pipeline baseline",
            file=sys.stderr,
        )
    return specs


def run_benchmark(args: argparse.Namespace) -> int:
    from distill.benchmark import benchmark_texts, run_benchmark, write_json
    from distill.data import data_dir
    from distill.eval_report import speed_table

    specs = benchmark_specs(args)
    texts = benchmark_texts(data_dir(args.data_dir), args.posts)
    result = run_benchmark(
        specs,
        texts,
        batch_sizes=args.batch_sizes,
        repeats=args.repeats,
        rounds=args.rounds,
        threads=args.threads,
        command=_command_line(),
    )
    write_json(result, args.json)
    print(speed_table(result))
    print(f"wrote {args.json}")
    _publish(args, result, _load_json(args.eval))
    return 0
