"""`triage demo`: broker + streaming job + a replayed stream of posts, with live progress.

Everything runs on this machine: the embedded Tansu broker (or ``--bootstrap-servers``), the
job as a `triage run` subprocess, a producer replaying posts at a steady rate, and a watcher
reading the routed topics back. Ctrl-C stops everything and still prints the summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from models.errors import TriageError
from models.repository import is_repository
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.config import KafkaSettings
from pipeline.routing import LABEL_ROUTES, REVIEW, ROUTES, output_topics
from pipeline.watch import OutputWatcher, Seen, percentile

JOB_STOP_GRACE_S = 10.0


@dataclass
class DemoContext:
    """What extra services (e.g. the dashboard) need to attach to a running demo."""

    settings: KafkaSettings
    input_topic: str
    output_prefix: str
    model_path: Path
    metrics_url: str | None
    work_dir: Path


@dataclass
class ExtraService:
    """A service started next to the demo: shown by name and URL, stopped at the end."""

    name: str
    url: str | None
    stop: Callable[[], None]


# Hook: callables that start services next to the demo (the dashboard registers itself here,
# e.g. ``EXTRA_SERVICE_STARTERS.append(start_dashboard)`` in its own module). Each one gets the
# DemoContext and returns an ExtraService or None (when it could not or should not start).
EXTRA_SERVICE_STARTERS: list[Callable[[DemoContext], ExtraService | None]] = []
# Modules imported before the hook runs so they can register a starter (missing ones skipped).
EXTRA_SERVICE_MODULES: tuple[str, ...] = ("pipeline.dashboard_demo",)


def start_extra_services(context: DemoContext) -> list[ExtraService]:
    """Start every registered extra service; a failing one is reported, never fatal."""
    import importlib

    for module_name in EXTRA_SERVICE_MODULES:
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    services = []
    for starter in EXTRA_SERVICE_STARTERS:
        try:
            service = starter(context)
        except Exception as exc:  # an optional extra must not break the demo
            print(f"triage demo: {getattr(starter, '__name__', starter)} failed: {exc}")
            continue
        if service is not None:
            services.append(service)
    return services


@dataclass
class DemoConfig:
    posts: list[dict[str, Any]]
    model_path: Path
    rate: float
    duration_s: float | None
    bootstrap_servers: str | None = None
    input_topic: str = "crisis.posts"
    output_prefix: str = "triage"
    partitions: int = 2
    metrics_port: int = 9108
    job_args: list[str] = field(default_factory=list)
    # After the replay, keep the job and the dashboard up until Ctrl-C (None: when interactive).
    keep_serving: bool | None = None


class JobProcess:
    """`triage run` in a subprocess (its own session: Ctrl-C reaches only the demo)."""

    def __init__(self, argv: list[str], log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", *argv],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGINT (clean stop), then SIGKILL after a grace period."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(JOB_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def _metrics_port(wanted: int) -> int:
    from pipeline.broker import free_port, port_accepts

    return wanted if wanted and not port_accepts(wanted) else free_port()


def _wait_until_serving(job: JobProcess, metrics_url: str, timeout_s: float = 120.0) -> None:
    """Block until the job's /metrics reports consumer lag: its source is polling Kafka."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not job.alive():
            raise TriageError(f"the job failed to start; its log ends:\n{job.log_tail()}")
        try:
            with urllib.request.urlopen(metrics_url, timeout=1) as response:
                if b"triage_consumer_lag_messages{" in response.read():
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise TriageError(f"the job did not start within {timeout_s:.0f} s; see {job.log_path}")


def _status_line(elapsed: float, sent: int, total: int, seen: Seen, rate: float) -> str:
    routes = " ".join(f"{route} {seen.routes.get(route, 0)}" for route in ROUTES)
    lag = max(0, sent - seen.total)
    return (
        f"[{elapsed:5.1f}s] sent {sent}/{total} | routed {seen.total} ({rate:5.1f} posts/s) | "
        f"{routes} | lag {lag}"
    )


def _summary(seen: Seen, elapsed: float, sent: int, out: TextIO) -> None:
    print("\nSummary", file=out)
    print(f"  posts sent {sent}, routed or dead-lettered {seen.total} in {elapsed:.1f} s", file=out)
    if seen.latencies_s:
        p50, p99 = percentile(seen.latencies_s, 50), percentile(seen.latencies_s, 99)
        print(
            f"  produce → routed latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms", file=out
        )
    labels = ", ".join(f"{label} {seen.labels.get(label, 0)}" for label in LABEL_ROUTES)
    print(f"  predicted labels: {labels}", file=out)
    for route in ROUTES:
        count = seen.routes.get(route, 0)
        example = seen.examples.get(route)
        line = f"  {route:<9}{count:>6}"
        if example:
            line += f"   e.g. {example[:70]!r}"
        if route == "dlq" and seen.reasons:
            line += "   " + ", ".join(f"{r} {n}" for r, n in seen.reasons.most_common())
        print(line, file=out)
    if seen.routes.get(REVIEW):
        print(
            "  (review = top probability below the model's threshold for that label, or a "
            "language no model reads)",
            file=out,
        )
    if seen.languages:
        langs = ", ".join(f"{lang} {n}" for lang, n in seen.languages.most_common())
        print(f"  languages: {langs}", file=out)
    if seen.clusters:
        posts, largest = sum(seen.clusters.values()), max(seen.clusters.values())
        print(
            f"  near-duplicates: {posts} posts in {len(seen.clusters)} distinct clusters "
            f"(largest ×{largest}; the dashboard shows one card per cluster)",
            file=out,
        )


def run_demo(config: DemoConfig, out: TextIO | None = None) -> int:
    """Run the demo until every post is routed (or, with ``keep_serving``, until Ctrl-C),
    ``duration_s`` passes, or Ctrl-C."""
    out = out or sys.stdout
    from pipeline.broker import EmbeddedBroker
    from pipeline.replay import replay_posts

    interactive = out.isatty()
    work_dir = Path(tempfile.mkdtemp(prefix="triage-demo-"))
    broker = None
    job = None
    watcher = None
    services: list[ExtraService] = []
    stop_replay = threading.Event()
    sent = [0]
    start = time.monotonic()
    seen = Seen()
    interrupted = False
    try:
        if config.bootstrap_servers:
            bootstrap = config.bootstrap_servers
        else:
            broker = EmbeddedBroker().start()
            bootstrap = broker.bootstrap_servers
        print(f"triage demo: Kafka at {bootstrap}", file=out)
        settings = KafkaSettings(bootstrap)
        ensure_topics(settings, [config.input_topic], config.partitions)
        ensure_topics(settings, output_topics(config.output_prefix), config.partitions)
        port = _metrics_port(config.metrics_port)
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        job = JobProcess(
            [
                "--bootstrap-servers", bootstrap,
                "--input-topic", config.input_topic,
                "--output-prefix", config.output_prefix,
                "--group-id", "triage-demo",
                "--model", str(config.model_path),
                "--metrics-port", str(port),
                *config.job_args,
            ],
            work_dir / "job.log",
        )  # fmt: skip
        print(
            f"triage demo: job started (model {config.model_path.name}, log {job.log_path})\n"
            f"triage demo: metrics at {metrics_url}\n"
            f"triage demo: topics {config.input_topic} → {config.output_prefix}.{{"
            + ",".join(ROUTES)
            + "}",
            file=out,
        )
        context = DemoContext(
            settings, config.input_topic, config.output_prefix, config.model_path,
            metrics_url, work_dir,
        )  # fmt: skip
        services = start_extra_services(context)
        for service in services:
            print(f"triage demo: {service.name} at {service.url or '(no URL)'}", file=out)
        if is_repository(config.model_path):
            repo = config.model_path
            print(
                f"triage demo: serving model repository {repo}; after labelling in the "
                f"dashboard, learn and publish with:\n  triage learn --model {repo} "
                f"--prefix {config.output_prefix} --bootstrap-servers {bootstrap} --publish {repo}",
                file=out,
            )
        print("triage demo: waiting for the job to start reading…", file=out, flush=True)
        _wait_until_serving(job, metrics_url)
        watcher = OutputWatcher(settings, config.output_prefix, config.input_topic).start()
        total = len(config.posts)

        def produce() -> None:
            replay_posts(
                settings,
                config.input_topic,
                config.posts,
                rate=config.rate,
                on_sent=lambda n: sent.__setitem__(0, sent[0] + n),
                should_stop=stop_replay.is_set,
            )

        producer = threading.Thread(target=produce, name="replay", daemon=True)
        producer.start()
        print(f"triage demo: replaying {total} posts at {config.rate:g} posts/s", file=out)
        keep_serving = interactive if config.keep_serving is None else config.keep_serving
        keep_serving = keep_serving and bool(services)
        replay_done = False
        last_print = 0.0
        previous = (time.monotonic(), 0)
        rate = 0.0
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            seen = watcher.snapshot()
            if now - previous[0] >= 1.0:
                rate = (seen.total - previous[1]) / (now - previous[0])
                previous = (now, seen.total)
            finished = not producer.is_alive() and seen.total >= sent[0]
            line = _status_line(now - start, sent[0], total, seen, rate)
            if interactive:
                print("\r" + line[:200], end="", file=out, flush=True)
            elif (finished and not replay_done) or now - last_print >= 2.0:
                print(line, file=out, flush=True)
                last_print = now
            if finished and not keep_serving:
                break
            if finished and not replay_done:
                replay_done = True
                urls = ", ".join(f"{svc.name} {svc.url}" for svc in services if svc.url)
                print(
                    f"\ntriage demo: every post is routed; still serving ({urls}). "
                    "Ctrl-C stops everything.",
                    file=out,
                    flush=True,
                )
            if config.duration_s is not None and now - start >= config.duration_s:
                print("\ntriage demo: --duration reached", file=out)
                break
            if not job.alive():
                raise TriageError(f"the job stopped unexpectedly; its log ends:\n{job.log_tail()}")
            if watcher.error is not None:
                raise TriageError(f"reading the routed topics failed: {watcher.error}")
    except KeyboardInterrupt:
        interrupted = True
        print("\ntriage demo: stopping…", file=out)
    finally:
        # A second Ctrl-C must not leave the job or the broker behind: ignore it while cleaning.
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            stop_replay.set()
            if watcher is not None:
                seen = watcher.snapshot()
                watcher.stop()
            for service in services:
                service.stop()
            if job is not None:
                job.stop()
            if broker is not None:
                broker.stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
    _summary(seen, time.monotonic() - start, sent[0], out)
    return 130 if interrupted else 0
