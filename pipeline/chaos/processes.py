"""Processes a chaos run drives: the job as a killable child process, a rate-limited producer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pipeline.demo_data import generate_posts
from pipeline.kafka.clients import durable_producer_config
from pipeline.kafka.config import KafkaSettings


class JobProcess:
    """``triage run`` as a child process (``python -m pipeline.cli run``), killable at will."""

    def __init__(
        self,
        settings: KafkaSettings,
        input_topic: str,
        prefix: str,
        group: str,
        model: str | Path | None = None,
        extra: tuple[str, ...] = (),
        log_path: Path | None = None,
    ) -> None:
        self.argv = [
            sys.executable, "-m", "pipeline.cli", "run",
            "--bootstrap-servers", settings.bootstrap_servers,
            "--input-topic", input_topic,
            "--output-prefix", prefix,
            "--group-id", group,
            *(["--model", str(model)] if model else []),
            *extra,
        ]  # fmt: skip
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self, *more: str) -> JobProcess:
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
        log = open(self.log_path, "ab") if self.log_path else subprocess.PIPE  # noqa: SIM115
        self.popen = subprocess.Popen(
            [*self.argv, *more], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if self.log_path:
            log.close()
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> int:
        """SIGKILL: no finish_bundle, no commit, no goodbye. Returns the exit code."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait()

    def wait(self, timeout_s: float) -> tuple[int, str]:
        """Wait for the job to end; (exit code, the tail of its output)."""
        assert self.popen is not None
        out, _ = self.popen.communicate(timeout=timeout_s)
        text = (out or b"").decode(errors="replace") if out is not None else ""
        if self.log_path:
            text = self.log_path.read_text(errors="replace")
        return self.popen.returncode, text[-3000:]


class RateProducer:
    """Produces demo posts at ``rate`` per second in a thread; keeps every acked offset."""

    def __init__(self, settings: KafkaSettings, topic: str, rate: float, seed: int = 0) -> None:
        self._settings = settings
        self._topic = topic
        self._rate = rate
        self._seed = seed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rate-producer", daemon=True)
        self.acked: set[tuple[int, int]] = set()
        self.failed = 0
        self.error: BaseException | None = None

    def start(self) -> RateProducer:
        self._thread.start()
        return self

    def stop(self) -> RateProducer:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.error is not None:
            raise self.error
        return self

    def _posts(self) -> Iterator[dict]:
        batch = 0
        while True:
            for post in generate_posts(1000, seed=self._seed + batch):
                yield {**post, "id": f"rate-{self._seed}-{batch}-{post['id']}"}
            batch += 1

    def _run(self) -> None:
        from kafka import KafkaProducer

        try:
            producer = KafkaProducer(
                **self._settings.kafka_python_kwargs(), linger_ms=5, **durable_producer_config()
            )
            start = time.monotonic()
            sent = 0
            for post in self._posts():
                if self._stop.is_set():
                    break
                ahead = sent / self._rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
                future = producer.send(
                    self._topic, key=post["id"].encode(), value=json.dumps(post).encode()
                )
                future.add_callback(self._acked).add_errback(self._failed)
                sent += 1
            producer.flush()
            producer.close()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def _acked(self, metadata: Any) -> None:
        self.acked.add((metadata.partition, metadata.offset))

    def _failed(self, _exc: BaseException) -> None:
        self.failed += 1


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout_s:.0f} s")
        time.sleep(0.05)
