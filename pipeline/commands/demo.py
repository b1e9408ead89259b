"""`triage demo`: the whole system on this machine, no arguments needed."""

from __future__ import annotations

import argparse

from pipeline.commands.arguments import positive_float, positive_int

EPILOG = """\
Starts an embedded Kafka broker (Tansu), the streaming job (`triage run` in a subprocess),
replays crisis posts into it and shows live progress (posts/s, counts per route, lag) and the
Prometheus metrics URL, then a summary. Ctrl-C stops everything cleanly.

The default posts are 200 synthetic ones written for this project (pipeline/demo_data.py);
--file replays real data. The job serves the model repository --model-repo (default
runs/model-repo, created with the model named in models/DEFAULT as its first version): label
posts in the dashboard, run the printed `triage learn … --publish` command, and the running job
switches to the new version. An explicit --model is served as it is (no repository).

Examples:
  triage demo
  triage demo --posts 1000 --rate 50
  triage demo --file ../shared/data/humaid_maria/humaid_maria.csv --posts 500 --rate 100
  triage demo --model triage-small --duration 60
  triage demo --bootstrap-servers localhost:9092      # use a running Kafka instead
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run broker + job + a replayed crisis stream locally (start here)",
        description="Run the whole triage system locally on a replayed stream of crisis posts.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--posts", type=positive_int, default=None, help="how many posts (default: 200, or all)"
    )
    parser.add_argument(
        "--rate", type=positive_float, default=20.0, help="posts per second (default: 20)"
    )
    parser.add_argument(
        "--duration", type=positive_float, default=None, help="stop after SECONDS at the latest"
    )
    parser.add_argument("--file", default=None, help="replay a CSV/JSONL file instead")
    parser.add_argument("--text-column", default="text", help="text column of --file")
    parser.add_argument("--id-column", default=None, help="id column of --file")
    parser.add_argument(
        "--model", default=None, help="serve this model package as it is (default: --model-repo)"
    )
    parser.add_argument(
        "--model-repo",
        default=None,
        help="model repository to serve and learn into (default: runs/model-repo, seeded with "
        "models/DEFAULT)",
    )
    parser.add_argument(
        "--metrics-port", type=int, default=9108, help="Prometheus port (default: 9108, or free)"
    )
    parser.add_argument(
        "--bootstrap-servers", default=None, help="use this Kafka instead of an embedded broker"
    )
    parser.add_argument("--partitions", type=positive_int, default=2, help="default: 2")
    parser.add_argument(
        "--keep-serving",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the replay keep the job and dashboard up until Ctrl-C "
        "(default: yes in a terminal, no otherwise)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal
    from pathlib import Path

    from models.package import ModelPackage, resolve_model
    from models.repository import ensure_repository, is_repository
    from pipeline.demo import DemoConfig, run_demo
    from pipeline.demo_data import generate_posts
    from pipeline.post_files import read_posts

    model_path = resolve_model(args.model)
    package = ModelPackage.load(model_path)  # a missing or corrupt model fails here, in one line
    if args.model is None or args.model_repo:
        repo = Path(args.model_repo or "runs/model-repo")
        if not is_repository(repo):
            ensure_repository(repo, package)
        model_path = repo
    if args.file:
        posts = read_posts(
            args.file, text_column=args.text_column, id_column=args.id_column, limit=args.posts
        )
    else:
        posts = generate_posts(args.posts or 200)
    config = DemoConfig(
        posts=posts,
        model_path=model_path,
        rate=args.rate,
        duration_s=args.duration,
        bootstrap_servers=args.bootstrap_servers,
        partitions=args.partitions,
        metrics_port=args.metrics_port,
        keep_serving=args.keep_serving,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly like Ctrl-C
    return run_demo(config)
