"""`triage distill …`: prepare data, train the teacher, distil students, export packages.

``distill.eval_cli`` (evaluation and benchmark subcommands) plugs in through its
``register(distill_subparsers)`` when it is importable.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from distill.config import RUNS_DIR

EPILOG = """Examples:
  triage distill prepare                       # splits → runs/data (prints sizes per label)
  triage distill prepare --loco                # fold + dev crises held out → runs/data-loco
  triage distill train-teacher --config teacher
  triage distill export --config teacher       # fp32 ONNX teacher → runs/teacher/package
  triage distill distil --config triage-tiny   # student from cached teacher logits
  triage distill export --config triage-tiny --ship --default
Configs: distill/configs/<name>.json (or a path). Runs resume from runs/<name>/checkpoint.pt.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prepared", type=Path, default=RUNS_DIR / "data", help="prepared splits")
    parser.add_argument("--runs", type=Path, default=RUNS_DIR, help="training workspace")


def _config(args):
    from distill.config import TrainConfig

    cfg = TrainConfig.load(args.config)
    if getattr(args, "max_steps", None):
        cfg.max_steps = args.max_steps
    return cfg


def _prepare(args) -> int:
    from distill.config import DataConfig
    from distill.folds import DEV_CRISES, LOCO_FOLDS
    from distill.splits import DATA_DIR, LOCO_DATA_DIR, prepare

    loco = list(args.loco_events or (LOCO_FOLDS if args.loco else []))
    dev = args.dev_events
    if dev is None:
        dev = [event for event in DEV_CRISES if event not in loco] if loco else []
    cfg = DataConfig(seed=args.seed, test_cap=args.test_cap, loco_events=loco, dev_events=dev)
    if args.sources:
        cfg.sources = list(args.sources)
    out = args.out or (LOCO_DATA_DIR if loco or dev else DATA_DIR)
    manifest = prepare(args.data_dir, out, cfg)
    print(f"prepared splits in {out} ({manifest['seconds']} s)")
    print(f"duplicates before split: {json.dumps(manifest['duplicates_before_split'])}")
    _print_source_counts(manifest["rows_by_source"])
    loco_info = manifest["loco"]
    groups = {
        "": manifest["splits"],
        "test/": manifest["tests"],
        "loco/": loco_info["folds"],
        "loco-dev/": loco_info["dev_crises"],
    }
    for prefix, group in groups.items():
        for name, info in group.items():
            task = f" [{info['task']}]" if "task" in info else ""
            labels = ", ".join(f"{k} {v}" for k, v in info["labels"].items())
            print(f"  {prefix + name:<40}{task:<14} {info['rows']:>6}  {labels}")
    return 0


def _print_source_counts(rows_by_source: dict[str, dict[str, int]]) -> None:
    """One line per source: rows loaded, dropped, duplicates removed, rows per split."""
    columns = next(iter(rows_by_source.values()), {}).keys()
    print("  " + f"{'source':<22}" + "".join(f"{c:>19}" for c in columns))
    for source, counts in rows_by_source.items():
        print("  " + f"{source:<22}" + "".join(f"{counts[c]:>19}" for c in columns))


def _train_teacher(args) -> int:
    from distill.teacher import train_teacher

    print(train_teacher(_config(args), args.prepared, args.runs))
    return 0


def _distil(args) -> int:
    from distill.distil import distil_student

    teacher = args.teacher or args.runs / "teacher" / "package"
    print(distil_student(_config(args), args.prepared, args.runs, teacher))
    return 0


def _export(args) -> int:
    from distill.package_model import set_default, ship
    from distill.release import export_teacher, release_student

    cfg = _config(args)
    if cfg.role == "teacher":
        print(export_teacher(cfg, args.prepared, args.runs))
        return 0
    package = release_student(cfg, args.prepared, args.runs)
    print(package)
    if args.ship:
        print(f"shipped {ship(package, cfg.name, args.models_dir)}")
        if args.default:
            print(f"default model: {set_default(cfg.name, args.models_dir)}")
    return 0


def register(subparsers) -> None:
    from models.package import MODELS_DIR

    parser = subparsers.add_parser(
        "distill",
        help="prepare data, train the teacher, distil and export the mini-models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="distill_command", metavar="STEP")
    sub.required = True

    p = sub.add_parser("prepare", help="normalise, map labels, dedup, split → parquet")
    p.add_argument("--data-dir", type=Path, default=None, help="shared data ($TRIAGE_DATA)")
    p.add_argument(
        "--out", type=Path, default=None, help="default runs/data (runs/data-loco with --loco)"
    )
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--test-cap", type=int, default=1500, help="max rows per test set")
    p.add_argument(
        "--loco",
        action="store_true",
        help="leave-one-crisis-out layout: hold out the default fold crises "
        "(distill.folds.LOCO_FOLDS) from train/dev/transfer and write them as test folds",
    )
    p.add_argument(
        "--loco-events",
        nargs="+",
        default=None,
        metavar="EVENT",
        help="hold out these canonical event ids instead (implies --loco)",
    )
    p.add_argument(
        "--dev-events",
        nargs="*",
        default=None,
        metavar="EVENT",
        help="dev crises, held out like folds and written to test/loco-dev/ for choosing "
        "operating points (default with --loco: distill.folds.DEV_CRISES; none: no dev crises)",
    )
    p.add_argument(
        "--sources", nargs="+", default=None, help="source folders (default distill.data.SOURCES)"
    )
    p.set_defaults(func=_prepare)

    p = sub.add_parser("train-teacher", help="fine-tune the mpnet teacher (resumable)")
    p.add_argument("--config", default="teacher")
    p.add_argument("--max-steps", type=int, default=0, help="override the config")
    _common(p)
    p.set_defaults(func=_train_teacher)

    p = sub.add_parser("distil", help="distil a student from cached teacher logits (resumable)")
    p.add_argument("--config", required=True, help="e.g. triage-small, triage-tiny")
    p.add_argument("--teacher", type=Path, default=None, help="teacher package (ONNX)")
    p.add_argument("--max-steps", type=int, default=0, help="override the config")
    _common(p)
    p.set_defaults(func=_distil)

    p = sub.add_parser("export", help="ONNX + int8 + parity + calibration → model package")
    p.add_argument("--config", required=True)
    p.add_argument("--ship", action="store_true", help="copy the package into models/<name>/")
    p.add_argument("--default", action="store_true", help="with --ship: write models/DEFAULT")
    p.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    _common(p)
    p.set_defaults(func=_export)

    try:
        eval_cli = importlib.import_module("distill.eval_cli")
    except ModuleNotFoundError as exc:
        if exc.name != "distill.eval_cli":
            raise
    else:
        eval_cli.register(sub)
