"""`triage classify`: classify a CSV/JSONL file with the same model code, no Kafka."""

from __future__ import annotations

import argparse
import sys

from pipeline.commands.arguments import positive_int

EPILOG = """\
Output: one JSON object per line with the input's id and text plus label, probabilities and
model {"name", "version"}.

Examples:
  triage classify --input ../shared/data/humaid_maria/humaid_maria.csv --output maria.jsonl
  triage classify --input posts.jsonl --output labelled.jsonl --model triage-small
  triage classify --input tweets.csv --output out.jsonl --text-column tweet_text --threads 2
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="classify a CSV/JSONL/Parquet file of posts (no Kafka)",
        description="Classify every post of a CSV, JSON Lines or Parquet file; write JSON Lines.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--input", required=True, help="a .csv, .jsonl or .parquet file of posts")
    parser.add_argument("--output", required=True, help="the .jsonl file to write")
    parser.add_argument("--model", default=None, help="model package (default: models/DEFAULT)")
    parser.add_argument("--text-column", default="text", help="text column/field (default: text)")
    parser.add_argument("--id-column", default=None, help="id column/field (default: id or row)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, help="posts per model call (default: 8)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="ONNX Runtime threads (default: 0 = all cores)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from tqdm import tqdm

    from models.errors import TriageError
    from models.runtime import OnnxClassifier, RuntimeOptions
    from pipeline.post_files import read_posts

    posts = read_posts(args.input, text_column=args.text_column, id_column=args.id_column)
    output = Path(args.output)
    if not output.parent.is_dir():
        raise TriageError(f"--output {output}: folder {output.parent} does not exist")
    options = RuntimeOptions(
        intra_op_threads=args.threads, device=args.device, sub_batch_size=args.batch_size
    )
    classifier = OnnxClassifier.from_path(args.model, options)
    chunk = max(256, args.batch_size * 8)  # many model batches per call: length sorting pays off
    start = time.monotonic()
    with (
        output.open("w", encoding="utf-8") as out,
        tqdm(total=len(posts), unit="post", disable=args.no_progress, file=sys.stderr) as bar,
    ):
        for begin in range(0, len(posts), chunk):
            batch = posts[begin : begin + chunk]
            texts = [p["text"] if isinstance(p["text"], str) else "" for p in batch]
            for post, prediction in zip(batch, classifier.predict(texts), strict=True):
                line = {"id": post["id"], "text": post["text"], **prediction.as_dict()}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            bar.update(len(batch))
    elapsed = time.monotonic() - start
    print(
        f"triage classify: {len(posts)} posts → {output} in {elapsed:.1f} s "
        f"with {classifier.model_id}",
        file=sys.stderr,
    )
    return 0
