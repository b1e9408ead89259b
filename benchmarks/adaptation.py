"""Adaptation to an unseen crisis: request recall as responders label 0…400 of its posts.

For each crisis (a leave-one-crisis-out fold: no training set of the base model or of the
replay data holds it), its posts are split once, seeded, into a labelling pool and an evaluation
half. The labels a responder team would give first are the pool's most uncertain posts (the
dashboard's labelling order: smallest margin between the two top probabilities); each step runs
`triage learn` from the base model with the first N of them (gold labels as feedback messages)
and scores the new package on the evaluation half: request recall at precision ≥ 0.60, request
AP, and the time the learn step took. The gate's verdict is recorded, and every package is
scored whether it ships or not (the curve is what labels can do; the gate is what ships).

    python benchmarks/adaptation.py                       # Kerala floods, 0/50/100/200/400
    python benchmarks/adaptation.py --crises kerala_floods_2018 hurricane_harvey_2017 \\
        --labels 0 50 100 --data-dir runs/data-loco

Results are cached per step in --out (rerunning resumes); the table and the plot go to
benchmarks/RESULTS.md and benchmarks/adaptation_recall.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import write_section  # noqa: E402
from distill.operating_point import recall_at_precision  # noqa: E402

HEADING = "## Adaptation: request recall on an unseen crisis as its posts are labelled"
PLOT = ROOT / "benchmarks" / "adaptation_recall.png"
SPLIT = "shuffled-v2"  # how the crisis is split into pool and evaluation half (cache key)


def _feedback_line(i: int, text: str, gold: str, predicted: str, model: str) -> str:
    from pipeline.feedback import feedback_message

    item = {"id": f"b{i}", "text": text, "label": predicted, "route": "review", "model": model}
    action = "confirmed" if gold == predicted else "misclassified"
    return json.dumps(feedback_message(item, action, None if gold == predicted else gold))


def _scores(package: Path, texts: list[str], gold: list[str]) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    from distill.learn import package_probabilities

    probs = package_probabilities(package, texts, threads=2)
    truth = np.array([g == "request" for g in gold])
    request = probs[:, 0]
    return {
        "request_r_at_p60": round(recall_at_precision(truth, request, 0.60), 4),
        "request_ap": round(float(average_precision_score(truth, request)), 4),
    }


def run_crisis(args: argparse.Namespace, crisis: str, out: Path) -> list[dict]:
    import polars as pl

    from distill.learn import package_probabilities
    from models.package import LABELS, ModelPackage

    frame = pl.read_parquet(Path(args.data_dir) / "test" / "loco" / f"{crisis}.parquet")
    # shuffle=True: polars keeps the row order of a full-fraction sample without it, and the
    # fold files are stored in source-split blocks
    frame = frame.filter(pl.col("gold").is_in(list(LABELS))).sample(
        fraction=1.0, shuffle=True, seed=7
    )
    texts = [r or t for r, t in zip(frame["raw_text"], frame["text"], strict=True)]
    gold = frame["gold"].to_list()
    half = len(texts) // 2
    pool_texts, pool_gold = texts[:half], gold[:half]
    eval_texts, eval_gold = texts[half:], gold[half:]
    base = ModelPackage.load(args.model)
    pool_probs = package_probabilities(base.path, pool_texts, threads=2)
    top2 = np.sort(pool_probs, axis=1)[:, -2:]
    order = np.argsort(top2[:, 1] - top2[:, 0], kind="stable")  # most uncertain first
    predicted = [LABELS[i] for i in pool_probs.argmax(axis=1)]
    rows = []
    for n in args.labels:
        cache = out / crisis / f"{n}.json"
        if cache.is_file():
            rows.append(json.loads(cache.read_text()))
            print(f"{crisis} {n}: cached {rows[-1]}")
            continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        row = {
            "crisis": crisis,
            "labels": n,
            "eval_posts": len(eval_texts),
            "eval_requests": int(sum(g == "request" for g in eval_gold)),
        }
        if n == 0:
            row.update(_scores(base.path, eval_texts, eval_gold), learn_s=0.0, ships=None)
        else:
            chosen = order[:n]
            row["labelled_requests"] = int(sum(pool_gold[i] == "request" for i in chosen))
            feedback = out / crisis / f"{n}.feedback.jsonl"
            feedback.write_text(
                "".join(
                    _feedback_line(int(i), pool_texts[i], pool_gold[i], predicted[i], base.model_id)
                    + "\n"
                    for i in chosen
                )
            )
            work = out / crisis / f"learn-{n}"
            argv = [
                sys.executable,
                "-m",
                "pipeline.cli",
                "learn",
                "--model",
                str(args.model),
                "--feedback-file",
                str(feedback),
                "--data-dir",
                str(args.data_dir),
                "--out",
                str(work),
                "--min-labels",
                str(min(n, 20)),
                "--replay-rows",
                str(args.replay_rows),
                "--epochs",
                str(args.epochs),
                "--test-rows",
                str(args.test_rows),
            ]
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True)
            row["learn_s"] = round(time.monotonic() - started, 1)
            (work / "learn.log").write_text(done.stdout + done.stderr)
            if done.returncode not in (0, 3):
                raise SystemExit(f"triage learn failed ({done.returncode}):\n{done.stderr[-2000:]}")
            row["ships"] = done.returncode == 0
            row.update(_scores(work / "package", eval_texts, eval_gold))
        cache.write_text(json.dumps(row))
        print(f"{crisis} {n}: {row}", flush=True)
        rows.append(row)
    return rows


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for crisis in sorted({r["crisis"] for r in rows}):
        mine = sorted((r for r in rows if r["crisis"] == crisis), key=lambda r: r["labels"])
        ax.plot(
            [r["labels"] for r in mine], [r["request_r_at_p60"] for r in mine], "o-", label=crisis
        )
    ax.set_xlabel("labelled posts of the crisis (most uncertain first)")
    ax.set_ylabel("request recall at precision ≥ 0.60")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)


def table(rows: list[dict], command: str, base: str) -> str:
    lines = [
        f"Command: `{command}` (base model {base}; {time.strftime('%Y-%m-%d')}, 2 cores shared "
        "with other work, so the learn times are upper bounds).",
        "",
        "Each crisis is a leave-one-crisis-out fold (in no training or replay data). Its posts "
        "are split once into a labelling pool and an evaluation half; a step labels the pool's "
        "N most uncertain posts (the dashboard's order) with their gold labels and runs "
        "`triage learn` from the base model; the new package is scored on the evaluation half. "
        "Ships: the gate's verdict (standing test sets capped, held-out labels).",
        "",
        "| crisis | labels | of them requests | request R@P≥0.60 | request AP | learn step (s) "
        "| gate |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["crisis"], r["labels"])):
        ships = "–" if r.get("ships") is None else ("ships" if r["ships"] else "refused")
        lines.append(
            f"| {r['crisis']} | {r['labels']} | {r.get('labelled_requests', 0)} | "
            f"{r['request_r_at_p60']:.2f} | {r['request_ap']:.2f} | {r['learn_s']:.0f} | {ships} |"
        )
    lines += ["", f"![request recall vs labels]({PLOT.name})", ""]
    return "\n".join(lines)


def settings_dir(args: argparse.Namespace) -> Path:
    """``--out/<hash of the settings>``: cached steps are reused only for the same settings."""
    import hashlib

    settings = [args.model, args.data_dir, args.replay_rows, args.epochs, args.test_rows, SPLIT]
    digest = hashlib.sha256(json.dumps(settings, default=str).encode()).hexdigest()[:12]
    return Path(args.out) / digest


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--model", default=str(ROOT / "models" / "triage-tiny"))
    parser.add_argument("--crises", nargs="+", default=["kerala_floods_2018"])
    parser.add_argument("--labels", nargs="+", type=int, default=[0, 50, 100, 200, 400])
    parser.add_argument("--data-dir", default=str(ROOT / "runs" / "data-loco"))
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-adaptation"))
    parser.add_argument("--replay-rows", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--test-rows", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if not (Path(args.data_dir) / "test" / "loco").is_dir():
        parser.error(
            f"{args.data_dir}/test/loco missing: run `triage distill prepare --loco` first"
        )
    rows = [r for crisis in args.crises for r in run_crisis(args, crisis, settings_dir(args))]
    (settings_dir(args) / "rows.json").write_text(json.dumps(rows, indent=1))
    if not args.no_write:
        plot(rows)
        command = "python benchmarks/adaptation.py " + " ".join(sys.argv[1:])
        section = table(rows, command.strip(), Path(args.model).name)
        write_section(HEADING, f"{HEADING}\n\n{section}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
