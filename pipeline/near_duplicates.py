"""Near-duplicate collapse: retweets and lightly edited copies of a post share one cluster.

A post's text is reduced to its dedup key (:func:`distill.normalize.dedup_key`: retweet prefix,
@mentions, URLs, case and punctuation removed). Posts with the same key are copies; otherwise
a MinHash (datasketch) of the key's word shingles is looked up in a MinHash LSH index of the
clusters seen in the last ``window_s`` seconds, and the closest cluster whose estimated
Jaccard similarity reaches ``threshold`` takes the post. Only a cluster's first post is indexed
(no chaining: a copy of a copy of a copy cannot drift into an unrelated post).

Every post gets a :class:`ClusterRef`: ``cluster_id`` (the id of the cluster's first post, its
own id for a new post) and ``cluster_size`` (posts of the cluster so far, this one included).
Nothing is dropped: collapse is a label that the dashboard groups by.

Memory is bounded: clusters unseen for ``window_s`` (by the posts' own Kafka timestamps) expire,
and beyond ``max_clusters`` the least recently seen is evicted. The same post id seen again
(Kafka's at-least-once redelivery) returns its cluster without growing it. State is per process:
on a distributed runner each worker process collapses the posts it reads.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

from distill.normalize import dedup_key, normalize_text
from pipeline import metrics

DEFAULT_WINDOW_S = 6 * 3600.0
DEFAULT_MAX_CLUSTERS = 50_000
DEFAULT_THRESHOLD = 0.6
DEFAULT_NUM_PERM = 64
SHINGLE_WORDS = 2
MIN_LSH_WORDS = 4  # shorter keys are only matched exactly (too few shingles to estimate from)


@dataclass(frozen=True)
class DuplicateOptions:
    """Tuning of the near-duplicate index."""

    threshold: float = DEFAULT_THRESHOLD  # Jaccard similarity of word-bigram sets to collapse
    num_perm: int = DEFAULT_NUM_PERM
    window_s: float = DEFAULT_WINDOW_S  # a cluster unseen this long expires
    max_clusters: int = DEFAULT_MAX_CLUSTERS


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """Which cluster a post belongs to, and how many posts it had when this one arrived."""

    cluster_id: str
    cluster_size: int


class _Cluster:
    __slots__ = ("cluster_id", "key", "minhash", "size", "last_seen_ms")

    def __init__(self, cluster_id: str, key: str, minhash: MinHash | None, seen_ms: int):
        self.cluster_id = cluster_id
        self.key = key
        self.minhash = minhash
        self.size = 1
        self.last_seen_ms = seen_ms


def shingles(key: str, width: int = SHINGLE_WORDS) -> list[bytes]:
    """Word ``width``-grams of a dedup key, UTF-8 encoded (the key's words when shorter)."""
    words = key.split(" ")
    if len(words) <= width:
        return [key.encode("utf-8")]
    return [" ".join(words[i : i + width]).encode("utf-8") for i in range(len(words) - width + 1)]


def post_key(text: str) -> str:
    """The text a post is compared by (see module docstring)."""
    return dedup_key(normalize_text(text))


class NearDuplicateIndex:
    """Assigns posts to near-duplicate clusters; thread-safe; bounded (see module docstring)."""

    def __init__(self, options: DuplicateOptions | None = None):
        self.options = options or DuplicateOptions()
        self._lsh = MinHashLSH(threshold=self.options.threshold, num_perm=self.options.num_perm)
        self._clusters: OrderedDict[str, _Cluster] = OrderedDict()  # least recently seen first
        self._by_key: dict[str, _Cluster] = {}
        self._post_cluster: OrderedDict[str, str] = OrderedDict()  # recent post id → cluster id
        self._newest_ms = 0
        self._lock = threading.Lock()
        # One permutation set for every MinHash (datasketch would rebuild it per object); CRC-32
        # hashes the shingles (deterministic, ~2x faster here than datasketch's default SHA-1).
        self._template = MinHash(num_perm=self.options.num_perm, seed=1, hashfunc=zlib.crc32)

    def __len__(self) -> int:
        return len(self._clusters)

    def observe(self, post_id: str, text: str, timestamp_ms: int) -> ClusterRef:
        """The post's cluster, after counting it in (a redelivered id is not counted twice)."""
        key = post_key(text)
        with self._lock:
            known = self._post_cluster.get(post_id)
            if known is not None and known in self._clusters:
                return ClusterRef(known, self._clusters[known].size)
            self._newest_ms = max(self._newest_ms, timestamp_ms)
            self._expire()
            cluster = self._by_key.get(key) if key else None
            minhash = None
            if cluster is None and key.count(" ") + 1 >= MIN_LSH_WORDS:
                minhash = self._minhash(key)
                cluster = self._closest(minhash)
            if cluster is None:
                cluster = self._add(post_id, key, minhash, timestamp_ms)
                metrics.DUPLICATE_POSTS.labels(kind="first").inc()
            else:
                cluster.size += 1
                cluster.last_seen_ms = max(cluster.last_seen_ms, timestamp_ms)
                self._clusters.move_to_end(cluster.cluster_id)
                metrics.DUPLICATE_POSTS.labels(kind="copy").inc()
            self._remember(post_id, cluster.cluster_id)
            return ClusterRef(cluster.cluster_id, cluster.size)

    def _minhash(self, key: str) -> MinHash:
        minhash = self._template.copy()
        minhash.update_batch(shingles(key))
        return minhash

    def _closest(self, minhash: MinHash) -> _Cluster | None:
        best, best_similarity = None, self.options.threshold
        for cluster_id in self._lsh.query(minhash):
            cluster = self._clusters.get(cluster_id)
            if cluster is None or cluster.minhash is None:
                continue
            similarity = float(np.mean(cluster.minhash.hashvalues == minhash.hashvalues))
            if similarity >= best_similarity:
                best, best_similarity = cluster, similarity
        return best

    def _add(self, post_id: str, key: str, minhash: MinHash | None, seen_ms: int) -> _Cluster:
        if post_id in self._clusters:  # an id reused for different text: keep the first
            post_id = f"{post_id}#{self._newest_ms}"
        cluster = _Cluster(post_id, key, minhash, seen_ms)
        self._clusters[post_id] = cluster
        if key:
            self._by_key.setdefault(key, cluster)
        if minhash is not None:
            self._lsh.insert(post_id, minhash, check_duplication=False)
        while len(self._clusters) > self.options.max_clusters:
            self._evict("capacity")
        metrics.DUPLICATE_CLUSTERS.set(len(self._clusters))
        return cluster

    def _remember(self, post_id: str, cluster_id: str) -> None:
        self._post_cluster[post_id] = cluster_id
        self._post_cluster.move_to_end(post_id)
        while len(self._post_cluster) > 4 * self.options.max_clusters:
            self._post_cluster.popitem(last=False)

    def _expire(self) -> None:
        horizon = self._newest_ms - self.options.window_s * 1000.0
        expired = False
        while self._clusters:
            oldest = next(iter(self._clusters.values()))
            if oldest.last_seen_ms >= horizon:
                break
            self._evict("expired")
            expired = True
        if expired:
            metrics.DUPLICATE_CLUSTERS.set(len(self._clusters))

    def _evict(self, reason: str) -> None:
        _, cluster = self._clusters.popitem(last=False)
        if self._by_key.get(cluster.key) is cluster:
            del self._by_key[cluster.key]
        if cluster.minhash is not None:
            self._lsh.remove(cluster.cluster_id)
        metrics.DUPLICATE_EVICTIONS.labels(reason=reason).inc()


_SHARED: dict[DuplicateOptions, NearDuplicateIndex] = {}
_SHARED_LOCK = threading.Lock()


def shared_index(options: DuplicateOptions) -> NearDuplicateIndex:
    """One index per process and options, shared by every routing DoFn instance in it."""
    with _SHARED_LOCK:
        index = _SHARED.get(options)
        if index is None:
            index = _SHARED[options] = NearDuplicateIndex(options)
        return index
