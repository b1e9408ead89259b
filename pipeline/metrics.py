"""Prometheus metrics of the triage job (one registry per process; names follow Prometheus rules).

Beam workers run in the launching process on FnApiRunner, so one HTTP endpoint serves all of
them; on a distributed runner each worker process starts its own endpoint on the same port
(see ``start_metrics_server``) and Prometheus scrapes every worker.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

POSTS_CONSUMED = Counter(
    "triage_posts_consumed_total", "Messages read from the input topic.", ["topic", "partition"]
)
POSTS_ROUTED = Counter(
    "triage_posts_routed_total",
    "Posts written to a routed topic, by route (requests, offers, support, other, review), "
    "predicted label and the model version that classified them.",
    ["route", "label", "model_version"],
)
DEAD_LETTERS = Counter(
    "triage_dead_letters_total", "Messages sent to the dead-letter topic, by reason.", ["reason"]
)
INFERENCE_BATCH_SIZE = Histogram(
    "triage_inference_batch_size",
    "Posts per model call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
INFERENCE_LATENCY = Histogram(
    "triage_inference_latency_seconds",
    "Wall time of one model call (a whole batch).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
END_TO_END_LATENCY = Histogram(
    "triage_end_to_end_latency_seconds",
    "From the input message's Kafka timestamp to the routed message being written.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CONSUMER_LAG = Gauge(
    "triage_consumer_lag_messages",
    "High watermark minus next offset to read, per input partition.",
    ["topic", "partition"],
)
DUPLICATE_POSTS = Counter(
    "triage_near_duplicate_posts_total",
    "Posts seen by the near-duplicate index: kind=first (a new cluster) or copy.",
    ["kind"],
)
DUPLICATE_CLUSTERS = Gauge(
    "triage_near_duplicate_clusters", "Clusters held in the near-duplicate index (bounded)."
)
DUPLICATE_EVICTIONS = Counter(
    "triage_near_duplicate_evictions_total",
    "Clusters dropped from the near-duplicate index: reason=expired (window) or capacity.",
    ["reason"],
)
POSTS_BY_LANGUAGE = Counter(
    "triage_posts_by_language_total",
    "Routed posts by language and where it came from (source=post field or detected).",
    ["lang", "source"],
)
MODEL_INFO = Info("triage_model", "The model package serving predictions.")
REPLICA_INFO = Info(
    "triage_replica", "This job replica's index, the replica count and the partitions it owns."
)
MODEL_SWAPS = Counter(
    "triage_model_swaps_total",
    "Model versions found in the model repository: swapped in, or refused (invalid package).",
    ["outcome"],
)

_server_lock = threading.Lock()
_server_port: int | None = None


def publish_replica(replica: int, replicas: int, partitions: list[int]) -> None:
    """Set ``triage_replica_info`` (which share of the input topic this process reads)."""
    REPLICA_INFO.info(
        {
            "replica": str(replica),
            "replicas": str(replicas),
            "partitions": ",".join(str(p) for p in partitions),
        }
    )


def start_metrics_server(port: int | None, addr: str = "0.0.0.0") -> int | None:
    """Serve /metrics on ``port`` once per process; later calls are no-ops. 0/None = off."""
    global _server_port
    if not port:
        return None
    with _server_lock:
        if _server_port is None:
            start_http_server(port, addr=addr)
            _server_port = port
    return _server_port
