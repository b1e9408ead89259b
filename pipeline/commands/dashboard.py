"""`triage dashboard`: the responder's web page, fed live from the routed Kafka topics."""

from __future__ import annotations

import argparse
import os

from pipeline.commands.arguments import positive_float

TOKEN_ENV = "TRIAGE_DASHBOARD_TOKEN"

EPILOG = f"""\
Serves a page (default http://127.0.0.1:8765/) with the live feed of requests, offers and
posts for review (newest first, filters by label, resource, event and keyword), posts per
minute by label, open requests with the offers that match them, and a health strip read
from the job's Prometheus metrics. "Handled" and "Misclassified" write feedback messages to
<prefix>.feedback (the retraining loop's input).

Access needs a token: a random one is made unless --token or ${TOKEN_ENV} gives one. Open
the printed URL (it carries ?token=...); the page then keeps it in an HttpOnly cookie.

Examples:
  triage dashboard --bootstrap-servers 127.0.0.1:9092 --prefix triage
  triage dashboard --bootstrap-servers kafka:9092 --prefix triage --port 9000 \\
      --metrics-url http://job-host:9108/metrics --since-hours 6
  {TOKEN_ENV}=$(openssl rand -hex 24) triage dashboard --prefix triage --host 0.0.0.0
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.kafka.config import add_kafka_arguments

    parser = subparsers.add_parser(
        "dashboard",
        help="serve the responders' live web dashboard",
        description="Serve the responders' web dashboard, fed live from the routed topics.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    add_kafka_arguments(parser)
    parser.add_argument(
        "--prefix", default="triage", help="output prefix of the job's topics (default: triage)"
    )
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default: 8765; 0 = any)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; plain HTTP: use TLS in front otherwise)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"access token, at least 16 characters (default: ${TOKEN_ENV}, else random)",
    )
    parser.add_argument(
        "--metrics-url",
        default="http://127.0.0.1:9108/metrics",
        help="the job's Prometheus endpoint (default: http://127.0.0.1:9108/metrics)",
    )
    parser.add_argument(
        "--since-hours",
        type=positive_float,
        default=None,
        metavar="H",
        help="load only the last H hours of each topic (default: from the beginning)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=2000,
        help="recent feed items kept in memory (default: 2000)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from models.errors import TriageError
    from pipeline.dashboard import start_dashboard
    from pipeline.kafka.config import settings_from_args

    if not 0 <= args.port <= 65535:
        raise TriageError(f"--port {args.port}: not a TCP port")
    if args.window < 10:
        raise TriageError("--window must be at least 10")
    settings = settings_from_args(args)
    url, stop = start_dashboard(
        settings,
        args.prefix,
        args.port,
        args.token,
        host=args.host,
        metrics_url=args.metrics_url or None,
        since_hours=args.since_hours,
        window=args.window,
    )
    done = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        print(f"Dashboard for {args.prefix}.* on Kafka {settings.bootstrap_servers}")
        print(f"  open {url}")
        print("Ctrl-C stops it.", flush=True)
        done.wait()
    finally:
        stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
