"""`triage learn`: responders' labels → the next model version, gated, published to a repository."""

from __future__ import annotations

import argparse
import sys

from pipeline.commands.arguments import non_negative_int, positive_float, positive_int

EPILOG = """\
Reads the dashboard's feedback (from Kafka, <prefix>.feedback, or a JSON Lines file in the same
format), fine-tunes the serving model on those labels mixed with a replay sample of its training
data, refits calibration, and gates the result: it must not lose more than 1 macro-F1 point on
any standing test set (from `triage distill prepare`) and must beat the base on held-out labels.
With --publish REPO a shipped version is written as REPO/<next version>/; a job started with
`triage run --model REPO` switches to it within --model-poll-seconds.
Exit status: 0 shipped (or written without --publish), 3 refused by the gate, 2 error.

Examples:
  triage learn --model models/triage-tiny --bootstrap-servers localhost:9092 --prefix crisis \\
      --publish runs/model-repo
  triage learn --model runs/model-repo --feedback-file labels.jsonl --publish runs/model-repo
  triage learn --model triage-tiny --feedback-file labels.jsonl --min-labels 20 --out runs/try
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.kafka.config import add_kafka_arguments

    parser = subparsers.add_parser(
        "learn",
        help="fine-tune the model on responders' labels; publish a gated new version",
        description="Learn from the dashboard's labels and publish the next model version.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--model", default=None, help="base: a package, a repository or a shipped model name"
    )
    source = parser.add_argument_group("feedback (one of)")
    source.add_argument("--feedback-file", help="JSON Lines of feedback messages")
    source.add_argument("--prefix", help="read <PREFIX>.feedback from Kafka")
    parser.add_argument("--publish", metavar="REPO", help="model repository to publish into")
    parser.add_argument(
        "--out",
        default=None,
        help="work folder (default: runs/learn/<time>); the package is OUT/package",
    )
    parser.add_argument("--data-dir", default=None, help="prepared data (default: runs/data)")
    parser.add_argument(
        "--min-labels", type=positive_int, default=50, help="refuse with fewer (default: 50)"
    )
    parser.add_argument(
        "--replay-rows",
        type=non_negative_int,
        default=2000,
        help="rows of the original training data mixed in (default: 2000)",
    )
    parser.add_argument("--epochs", type=positive_float, default=2.0, help="default: 2")
    parser.add_argument(
        "--test-rows",
        type=non_negative_int,
        default=0,
        help="cap each standing test set for a faster gate (default: 0 = whole sets)",
    )
    parser.add_argument(
        "--no-gate",
        action="store_true",
        help="skip the standing-test-set check (the card says so); held-out labels still judge",
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="default: 2")
    parser.add_argument("--seed", type=int, default=13, help="default: 13")
    add_kafka_arguments(parser, required=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from distill.config import RUNS_DIR
    from distill.learn import LearnOptions, learn
    from distill.splits import DATA_DIR
    from models.errors import TriageError
    from pipeline.feedback import labelled_posts

    if bool(args.feedback_file) == bool(args.prefix):
        raise TriageError("give exactly one feedback source: --feedback-file F or --prefix X")
    if args.feedback_file:
        path = Path(args.feedback_file)
        if not path.is_file():
            raise TriageError(f"--feedback-file {path}: no such file")
        values = path.read_bytes().splitlines()
        origin = str(path)
    else:
        from pipeline.feedback import feedback_topic
        from pipeline.kafka.admin import read_topic
        from pipeline.kafka.config import settings_from_args

        topic = feedback_topic(args.prefix)
        values = [r.value for r in read_topic(settings_from_args(args), topic)]
        origin = f"{topic} on {args.bootstrap_servers}"
    posts, skipped = labelled_posts(v for v in values if v and v.strip())
    print(
        f"feedback: {len(values)} messages from {origin} → {len(posts)} labelled posts"
        + (f", skipped {sum(skipped.values())} ({dict(skipped)})" if skipped else "")
    )
    options = LearnOptions(
        min_labels=args.min_labels,
        replay_rows=args.replay_rows,
        epochs=args.epochs,
        test_rows=args.test_rows,
        gate=not args.no_gate,
        threads=args.threads,
        seed=args.seed,
    )
    work = Path(args.out) if args.out else RUNS_DIR / "learn" / time.strftime("%Y%m%d-%H%M%S")
    result = learn(
        args.model,
        posts,
        skipped,
        Path(args.data_dir) if args.data_dir else DATA_DIR,
        work,
        options,
        publish=Path(args.publish) if args.publish else None,
    )
    for line in result.verdict.lines():
        print(line)
    steps = ", ".join(f"{name} {s:.0f} s" for name, s in result.seconds.items())
    took = sum(result.seconds.values())
    print(f"package: {result.package} (version {result.version}); took {took:.0f} s ({steps})")
    if result.published:
        print(f"published: {result.published}")
    elif args.publish and not result.verdict.ships:
        print(f"not published to {args.publish}: the gate refused it", file=sys.stderr)
    return 0 if result.verdict.ships else 3
