"""Near-duplicate collapse: retweets and lightly edited copies of a post share one cluster.

A post's text is reduced to its dedup key (:func:`post_key`: HTML entities decoded, retweet
prefix, @mentions, URLs, case and punctuation removed). Posts with the same key are copies;
otherwise a MinHash signature of the key's word bigrams (64 hash functions) is looked up in a
banded LSH index (16 bands of 4 rows) of the clusters seen in the last ``window_s`` seconds, and
the closest candidate whose estimated Jaccard similarity reaches ``threshold`` takes the post,
provided both name compatible *anchors*: the same places (gazetteer), resource types (lexicon)
and numbers, one set containing the other (a truncated retweet may lose some). Template-like
posts that differ only in the town or the need ("need insulin in Ponce" / "need water in
Caguas") are different requests and stay apart.
Only a cluster's first post is indexed (no chaining: a copy of a copy of a copy cannot drift
into an unrelated post).

Every post gets a :class:`ClusterRef`: ``cluster_id`` (the id of the cluster's first post, its
own id for a new post) and ``cluster_size`` (posts of the cluster so far, this one included).
Nothing is dropped: collapse is a label that the dashboard groups by.

Memory is bounded: clusters unseen for ``window_s`` (by the posts' own Kafka timestamps) expire,
and beyond ``max_clusters`` the least recently seen is evicted. The same post id seen again
(Kafka's at-least-once redelivery) returns its cluster without growing it. State is per process:
on a distributed runner each worker process collapses the posts it reads.

Why not datasketch's MinHashLSH: it was the first version (same parameters); on this machine it
cost ~500-1600 µs and ~4.2 KB per cluster (a MinHash object per post, ten sets per key), against
a budget of ~0.3 ms per post for every stage together. The banded index here is ~60 lines of
numpy and dicts (benchmarks/near_duplicates.py, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import html
import re
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from pipeline import metrics
from pipeline.enrich import places_and_resources

DEFAULT_WINDOW_S = 6 * 3600.0
DEFAULT_MAX_CLUSTERS = 50_000
DEFAULT_THRESHOLD = 0.6
BANDS, ROWS = 16, 4  # 64 hash functions; the S-curve's midpoint is (1/16)^(1/4) = 0.5
SHINGLE_WORDS = 2
MIN_LSH_WORDS = 4  # shorter keys are only matched exactly (too few shingles to estimate from)


@dataclass(frozen=True)
class DuplicateOptions:
    """Tuning of the near-duplicate index."""

    threshold: float = DEFAULT_THRESHOLD  # Jaccard similarity of word-bigram sets to collapse
    window_s: float = DEFAULT_WINDOW_S  # a cluster unseen this long expires
    max_clusters: int = DEFAULT_MAX_CLUSTERS


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """Which cluster a post belongs to, and how many posts it had when this one arrived."""

    cluster_id: str
    cluster_size: int


class _Cluster:
    __slots__ = ("cluster_id", "key", "text", "signature", "size", "last_seen_ms", "_anchors")

    def __init__(
        self, cluster_id: str, key: str, text: str, signature: np.ndarray | None, seen_ms: int
    ):
        self.cluster_id = cluster_id
        self.key = key
        self.text = text if signature is not None else ""  # kept only to check anchors
        self.signature = signature
        self._anchors: tuple[frozenset[str], ...] | None = None
        self.size = 1
        self.last_seen_ms = seen_ms

    def anchors(self) -> tuple[frozenset[str], ...]:
        if self._anchors is None:
            self._anchors = anchors(self.text, self.key)
            self.text = ""
        return self._anchors


_URL = re.compile(r"(?:https?://|www\.)\S+|\bt\.co/\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_RETWEET = re.compile(r"^(?:\s*(?:rt|mt)\b\s*:?\s*)+", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_VIA = re.compile(r"\b(?:rt|via)\b")
_RNG = np.random.default_rng(20261130)
# Multiply-shift hashing (Dietzfelbinger): the high 32 bits of a·h + b mod 2^64, a odd.
_A = _RNG.integers(1, 1 << 63, size=BANDS * ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 1 << 63, size=BANDS * ROWS, dtype=np.uint64)
_SHIFT = np.uint64(32)


def post_key(text: str) -> str:
    """The text a post is compared by: lower-case words only, no retweet prefix, mentions,
    links or punctuation (``RT @a: Need WATER!! https://t.co/x`` → ``need water``)."""
    text = _MENTION.sub(" ", _URL.sub(" ", html.unescape(text)))
    text = _NON_WORD.sub(" ", _RETWEET.sub("", text.strip()).lower())
    return " ".join(_VIA.sub(" ", text).split())


def shingles(key: str, width: int = SHINGLE_WORDS) -> list[bytes]:
    """Word ``width``-grams of a dedup key, UTF-8 encoded (the key itself when shorter)."""
    words = key.split(" ")
    if len(words) <= width:
        return [key.encode("utf-8")]
    return [" ".join(words[i : i + width]).encode("utf-8") for i in range(len(words) - width + 1)]


def signature(key: str) -> np.ndarray:
    """MinHash signature of the key's shingles: 64 × uint32 (CRC-32, then 64 hash functions)."""
    hashes = np.array(list(map(zlib.crc32, shingles(key))), dtype=np.uint64)[:, None]
    permuted = (hashes * _A + _B) >> _SHIFT  # array arithmetic wraps mod 2^64 silently
    return permuted.min(axis=0).astype(np.uint32)


def anchors(text: str, key: str) -> tuple[frozenset[str], ...]:
    """Places, resource types and numbers a post names (see module docstring)."""
    places, resources = places_and_resources(text)
    numbers = frozenset(w for w in key.split(" ") if any(c.isdigit() for c in w))
    return places, resources, numbers


def compatible(a: tuple[frozenset[str], ...], b: tuple[frozenset[str], ...]) -> bool:
    """True when every anchor set of one post contains the other's, or is contained in it."""
    return all(x <= y or y <= x for x, y in zip(a, b, strict=True))


def _band_keys(sig: np.ndarray) -> list[int]:
    raw = sig.tobytes()
    step = ROWS * 4
    return [hash(raw[i : i + step]) for i in range(0, len(raw), step)]


class NearDuplicateIndex:
    """Assigns posts to near-duplicate clusters; thread-safe; bounded (see module docstring)."""

    def __init__(self, options: DuplicateOptions | None = None):
        self.options = options or DuplicateOptions()
        self._bands: list[dict[int, str]] = [{} for _ in range(BANDS)]  # band key → cluster
        self._clusters: OrderedDict[str, _Cluster] = OrderedDict()  # least recently seen first
        self._by_key: dict[str, _Cluster] = {}
        self._post_cluster: OrderedDict[str, str] = OrderedDict()  # recent post id → cluster id
        self._newest_ms = 0
        self._lock = threading.Lock()
        self._first_posts = metrics.DUPLICATE_POSTS.labels(kind="first")
        self._copies = metrics.DUPLICATE_POSTS.labels(kind="copy")

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
            sig = bands = None
            if cluster is None and key.count(" ") + 1 >= MIN_LSH_WORDS:
                sig = signature(key)
                bands = _band_keys(sig)
                cluster = self._closest(sig, bands, text, key)
            if cluster is None:
                cluster = self._add(post_id, key, text, sig, bands, timestamp_ms)
                self._first_posts.inc()
            else:
                cluster.size += 1
                cluster.last_seen_ms = max(cluster.last_seen_ms, timestamp_ms)
                self._clusters.move_to_end(cluster.cluster_id)
                self._copies.inc()
            self._remember(post_id, cluster.cluster_id)
            return ClusterRef(cluster.cluster_id, cluster.size)

    def _closest(self, sig: np.ndarray, bands: list[int], text: str, key: str) -> _Cluster | None:
        best, best_similarity = None, self.options.threshold
        own: tuple[frozenset[str], ...] | None = None
        seen: set[str] = set()
        for table, band in zip(self._bands, bands, strict=True):
            cluster_id = table.get(band)
            if cluster_id is None or cluster_id in seen:
                continue
            seen.add(cluster_id)
            cluster = self._clusters.get(cluster_id)
            if cluster is None or cluster.signature is None:
                continue
            similarity = float(np.count_nonzero(cluster.signature == sig)) / sig.size
            if similarity < best_similarity:
                continue
            own = own if own is not None else anchors(text, key)
            if compatible(own, cluster.anchors()):
                best, best_similarity = cluster, similarity
        return best

    def _add(
        self,
        post_id: str,
        key: str,
        text: str,
        sig: np.ndarray | None,
        bands: list[int] | None,
        seen_ms: int,
    ) -> _Cluster:
        if post_id in self._clusters:  # an id reused for different text: keep the first
            post_id = f"{post_id}#{self._newest_ms}"
        cluster = _Cluster(post_id, key, text, sig, seen_ms)
        self._clusters[post_id] = cluster
        if key:
            self._by_key.setdefault(key, cluster)
        for table, band in zip(self._bands, bands or (), strict=False):
            table.setdefault(band, post_id)  # the bucket's first cluster answers for it
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
        if cluster.signature is not None:
            for table, band in zip(self._bands, _band_keys(cluster.signature), strict=True):
                if table.get(band) == cluster.cluster_id:
                    del table[band]
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
