"""The Dask cluster a backfill runs on: a running scheduler, or a LocalCluster started here."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from models.errors import TriageError, first_line

CONNECT_TIMEOUT_S = 20


@dataclass(frozen=True)
class DaskCluster:
    """Where Beam's DaskRunner connects, and what to show the user."""

    address: str
    dashboard: str | None
    workers: int
    local: bool


@contextmanager
def dask_cluster(
    workers: int, scheduler: str | None = None, dashboard_address: str = ":8787"
) -> Iterator[DaskCluster]:
    """Join ``scheduler`` (tcp://HOST:PORT), or start a LocalCluster of ``workers`` processes
    with one thread each (the model has its own threads); closed on exit."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=dashboard_address,
                silence_logs=logging.ERROR,
                preload=["pipeline.backfill.worker_setup"],
            )
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = f"Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
        raise TriageError(f"cannot start or reach {where}: {first_line(exc)}") from None
    try:
        if scheduler:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except TimeoutError:
                raise TriageError(f"Dask scheduler {scheduler} has no worker") from None
        count = len(client.scheduler_info().get("workers", {}))
        address = scheduler or cluster.scheduler_address
        yield DaskCluster(address, _dashboard(client), count, local=cluster is not None)
    finally:
        client.close()  # the client before the cluster, or it logs reconnect errors
        if cluster is not None:
            cluster.close()


def check_scheduler_reachable(address: str, timeout_s: float = 5.0) -> None:
    """One line at once for a wrong tcp://HOST:PORT, instead of the client's retries."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if parts.scheme not in ("tcp", "tls") or not host or not port:
        raise TriageError(f"--dask-scheduler {address}: expected tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TriageError(f"cannot reach Dask scheduler {address}: {reason}") from None


def _dashboard(client) -> str | None:  # noqa: ANN001 - distributed.Client
    """The dashboard URL, or None when the scheduler serves none (bokeh missing)."""
    try:
        info = client.scheduler_info()
        return client.dashboard_link if info.get("services", {}).get("dashboard") else None
    except (KeyError, AttributeError):
        return None
