"""`triage replay`: produce posts from a CSV or JSON Lines file to a Kafka topic."""

from __future__ import annotations

import argparse
import sys

from pipeline.commands.arguments import positive_float, positive_int
from pipeline.kafka.config import add_kafka_arguments, settings_from_args

EPILOG = """\
Each row/line becomes one JSON post {"id", "text", ...} keyed by its id. CSV columns
created_at, lang, user, event and source are kept; other CSV columns are dropped. JSON Lines
objects are sent with all their fields.

Examples:
  triage replay ../shared/data/humaid_maria/humaid_maria.csv \\
      --bootstrap-servers localhost:9092 --topic posts --rate 50
  triage replay pipeline/demo_posts.jsonl --bootstrap-servers localhost:9092 --topic posts
  triage replay tweets.csv --bootstrap-servers localhost:9092 --topic posts \\
      --text-column tweet_text --id-column tweet_id --limit 1000
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="produce posts from a CSV/JSONL/Parquet file to Kafka",
        description="Produce posts from a CSV, JSON Lines or Parquet file to a Kafka topic.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("file", help="a .csv, .jsonl or .parquet file of posts")
    parser.add_argument("--topic", required=True, help="topic to produce to")
    parser.add_argument(
        "--rate", type=positive_float, default=None, help="posts per second (default: max)"
    )
    parser.add_argument(
        "--text-column", default="text", help="column/field with the text (default: text)"
    )
    parser.add_argument(
        "--id-column", default=None, help="column/field with the id (default: id, else row number)"
    )
    parser.add_argument("--limit", type=positive_int, default=None, help="send at most N posts")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_kafka_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipeline.post_files import read_posts
    from pipeline.replay import replay_posts

    settings = settings_from_args(args)
    posts = read_posts(
        args.file, text_column=args.text_column, id_column=args.id_column, limit=args.limit
    )
    with tqdm(total=len(posts), unit="post", disable=args.no_progress, file=sys.stderr) as progress:
        stats = replay_posts(settings, args.topic, posts, rate=args.rate, on_sent=progress.update)
    print(
        f"triage replay: sent {stats.sent} posts to {args.topic} in {stats.seconds:.1f} s "
        f"({stats.rate:.0f} posts/s)",
        file=sys.stderr,
    )
    return 0
