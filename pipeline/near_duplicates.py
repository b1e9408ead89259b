"""Near-duplicate collapse: retweets and lightly edited copies of a post share one cluster.

A post's text is reduced to its dedup key (:func:`post_key`: HTML entities decoded, retweet
prefix, @mentions, URLs, case and punctuation removed). Posts with the same key are copies;
otherwise a bottom-k MinHash sketch of the key's word bigrams (the ``SKETCH`` smallest CRC-32
hashes) is looked up in an index of the clusters seen in the last ``window_s`` seconds (each
cluster is found under its ``LOOKUPS`` smallest hashes: two sets with Jaccard similarity J share
their smallest hash with probability J, so a J = 0.6 copy is missed with probability ~0.4^4),
and the closest candidate whose estimated Jaccard similarity reaches ``threshold`` takes the post,
provided both name compatible *anchors*: the same place (the enrichment's gazetteer place),
resource types (lexicon) and numbers, one set containing the other (a truncated retweet may
lose some). The job passes the enrichment it computes anyway, so the check costs nothing extra.
Template-like posts that differ only in the town or the need ("need insulin in Ponce" / "need
water in Caguas") are different requests and stay apart.
Only a cluster's first post is indexed (no chaining: a copy of a copy of a copy cannot drift
into an unrelated post).

Every post gets a :class:`ClusterRef`: ``cluster_id`` (the id of the cluster's first post, its
own id for a new post) and ``cluster_size`` (posts of the cluster so far, this one included).
Nothing is dropped: collapse is a label that the dashboard groups by.

Memory is bounded: clusters unseen for ``window_s`` (by the posts' own Kafka timestamps) expire,
and beyond ``max_clusters`` the least recently seen is evicted. The same post id seen again
(Kafka's at-least-once redelivery) returns its cluster without growing it. State is per process:
on a distributed runner each worker process collapses the posts it reads.

Why not datasketch's MinHashLSH: it was the first version; on this machine it cost ~500-1600 µs
and ~4.2 KB per cluster (a MinHash object per post, ten sets per key); a numpy 64-permutation
MinHash with a banded index came next and still cost ~280 µs per post inside the job. The
bottom-k sketch here needs one CRC-32 per shingle and a sort, in plain Python
(benchmarks/near_duplicates.py, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline import metrics
from pipeline.enrich import enrich
from pipeline.language import clean_for_language_id

DEFAULT_WINDOW_S = 6 * 3600.0
DEFAULT_MAX_CLUSTERS = 50_000
DEFAULT_THRESHOLD = 0.6
SKETCH = 24  # smallest shingle hashes kept per cluster (the Jaccard estimate's sample)
LOOKUPS = 4  # of which the smallest few index the cluster
SHINGLE_WORDS = 2
MIN_SKETCH_WORDS = 4  # shorter keys are only matched exactly (too few shingles to estimate from)


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
    __slots__ = (
        "cluster_id", "key", "text", "sketch", "size", "last_seen_ms", "_named", "_anchors",
        "note",
    )  # fmt: skip

    def __init__(
        self,
        cluster_id: str,
        key: str,
        text: str,
        sketch: tuple[int, ...] | None,
        seen_ms: int,
        named: Named | None,
    ):
        self.cluster_id = cluster_id
        self.key = key
        self.sketch = sketch
        # Anchors are only ever compared for clusters found by sketch, and built on first need:
        # from the enrichment's names when known, else from the text (kept until then).
        self.text = text if sketch is not None and named is None else ""
        self._named = named if sketch is not None else None
        self._anchors: Anchors | None = None
        self.size = 1
        self.last_seen_ms = seen_ms
        self.note: Any = None  # what a caller learnt about the cluster (the job: its language)

    def anchors(self) -> Anchors:
        if self._anchors is None:
            if self._named is not None:
                self._anchors = named_anchors(self._named, self.key)
            else:
                self._anchors = text_anchors(self.text, self.key)
            self.text, self._named = "", None
        return self._anchors


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_VIA = re.compile(r"\b(?:rt|via)\b")
_NUMBER_WORD = re.compile(r"[^ ]*\d[^ ]*")


def post_key(text: str, cleaned: str | None = None) -> str:
    """The text a post is compared by: lower-case words only, no retweet prefix, mentions,
    links or punctuation (``RT @a: Need WATER!! https://t.co/x`` → ``need water``).
    ``cleaned`` is the text's :func:`~pipeline.language.clean_for_language_id` when the caller
    has it already (language id starts with the same cleaning)."""
    if cleaned is None:
        cleaned = clean_for_language_id(text)
    return " ".join(_VIA.sub(" ", _NON_WORD.sub(" ", cleaned.lower())).split())


def shingles(key: str, width: int = SHINGLE_WORDS) -> list[bytes]:
    """Word ``width``-grams of a dedup key, UTF-8 encoded (the key itself when shorter)."""
    words = key.split(" ")
    if len(words) <= width:
        return [key.encode("utf-8")]
    return [" ".join(words[i : i + width]).encode("utf-8") for i in range(len(words) - width + 1)]


def sketch(key: str) -> tuple[int, ...]:
    """Bottom-k MinHash sketch of the key's shingles: its ``SKETCH`` smallest CRC-32 hashes."""
    return tuple(sorted(set(map(zlib.crc32, shingles(key))))[:SKETCH])


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Jaccard similarity estimated from two bottom-k sketches: of the k smallest hashes of
    their union, the share found in both (exact when both sets are smaller than k)."""
    sa, sb = set(a), set(b)
    both, union = sa & sb, sa | sb
    k = min(SKETCH, len(union))
    if not k or not both:
        return 0.0
    return sum(h in both for h in sorted(union)[:k]) / k


Anchors = tuple[frozenset[str], frozenset[str], frozenset[str]]
"""(place, resource types, numbers) a post names."""


Named = tuple[str | None, tuple[str, ...]]
"""(gazetteer place or None, resource types) from the job's enrichment: cheap to keep."""
_NONE: frozenset[str] = frozenset()


def enrichment_names(enrichment: Mapping[str, Any]) -> Named | None:
    """The enrichment's gazetteer place and resource types; None when its location came from
    elsewhere (a ``geo`` point): the text's own place is then unknown, and an empty place would
    be compatible with any town, so the anchors must come from the text."""
    location = enrichment.get("location") or {}
    method = location.get("method")
    if method not in (None, "gazetteer"):
        return None
    place = location.get("name") if method == "gazetteer" else None
    return place, tuple(enrichment.get("resources") or ())


def named_anchors(named: Named, key: str) -> Anchors:
    """Anchors from the enrichment's names and the key's numbers."""
    place, resources = named
    return (
        frozenset((place,)) if place else _NONE,
        frozenset(resources) if resources else _NONE,
        frozenset(_NUMBER_WORD.findall(key)),
    )


def text_anchors(text: str, key: str) -> Anchors:
    """Anchors of a bare text (enriched here, from the text alone)."""
    return named_anchors(enrichment_names(enrich({"text": text})) or (None, ()), key)


def post_anchors(enrichment: Mapping[str, Any] | None, text: str, key: str) -> Anchors:
    """Anchors from the job's enrichment when it read them from the text, else from the text."""
    named = enrichment_names(enrichment) if enrichment is not None else None
    return named_anchors(named, key) if named is not None else text_anchors(text, key)


def compatible(a: Anchors, b: Anchors) -> bool:
    """True when every anchor set of one post contains the other's, or is contained in it."""
    return all(x <= y or y <= x for x, y in zip(a, b, strict=True))


class NearDuplicateIndex:
    """Assigns posts to near-duplicate clusters; thread-safe; bounded (see module docstring)."""

    def __init__(self, options: DuplicateOptions | None = None):
        self.options = options or DuplicateOptions()
        self._lookup: dict[int, str] = {}  # one of a cluster's smallest hashes → the cluster
        self._clusters: OrderedDict[str, _Cluster] = OrderedDict()  # least recently seen first
        self._by_key: dict[str, _Cluster] = {}
        self._post_cluster: OrderedDict[str, str] = OrderedDict()  # recent post id → cluster id
        self._newest_ms = 0
        self._lock = threading.Lock()
        self._first_posts = metrics.DUPLICATE_POSTS.labels(kind="first")
        self._copies = metrics.DUPLICATE_POSTS.labels(kind="copy")

    def __len__(self) -> int:
        return len(self._clusters)

    def observe(
        self,
        post_id: str,
        text: str,
        timestamp_ms: int,
        enrichment: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> ClusterRef:
        """The post's cluster, after counting it in (a redelivered id is not counted twice).

        ``enrichment`` (the job's, for this post) gives the anchors; without it they are
        computed from the text when a similar cluster is found. ``key``: the text's
        :func:`post_key`, when the caller has it already.
        """
        if key is None:
            key = post_key(text)
        with self._lock:
            known = self._post_cluster.get(post_id)
            if known is not None and known in self._clusters:
                return ClusterRef(known, self._clusters[known].size)
            self._newest_ms = max(self._newest_ms, timestamp_ms)
            self._expire()
            cluster = self._by_key.get(key) if key else None
            sig = None
            if cluster is None and key.count(" ") + 1 >= MIN_SKETCH_WORDS:
                sig = sketch(key)
                cluster = self._closest(sig, text, key, enrichment)
            if cluster is None:
                named = enrichment_names(enrichment) if sig and enrichment is not None else None
                cluster = self._add(post_id, key, text, sig, timestamp_ms, named)
                self._first_posts.inc()
            else:
                cluster.size += 1
                cluster.last_seen_ms = max(cluster.last_seen_ms, timestamp_ms)
                self._clusters.move_to_end(cluster.cluster_id)
                self._copies.inc()
            self._remember(post_id, cluster.cluster_id)
            return ClusterRef(cluster.cluster_id, cluster.size)

    def note(self, cluster_id: str) -> Any:
        """What :meth:`set_note` stored for a live cluster (None when expired or unset)."""
        with self._lock:
            cluster = self._clusters.get(cluster_id)
            return cluster.note if cluster is not None else None

    def set_note(self, cluster_id: str, value: Any) -> None:
        """Store ``value`` with a live cluster; it expires and is evicted with the cluster."""
        with self._lock:
            cluster = self._clusters.get(cluster_id)
            if cluster is not None:
                cluster.note = value

    def _closest(
        self, sig: tuple[int, ...], text: str, key: str, enrichment: Mapping[str, Any] | None
    ) -> _Cluster | None:
        best, best_similarity = None, self.options.threshold
        own: Anchors | None = None
        seen: set[str] = set()
        for value in sig[:LOOKUPS]:
            cluster_id = self._lookup.get(value)
            if cluster_id is None or cluster_id in seen:
                continue
            seen.add(cluster_id)
            cluster = self._clusters.get(cluster_id)
            if cluster is None or cluster.sketch is None:
                continue
            estimate = similarity(cluster.sketch, sig)
            if estimate < best_similarity:
                continue
            if own is None:
                own = post_anchors(enrichment, text, key)
            if compatible(own, cluster.anchors()):
                best, best_similarity = cluster, estimate
        return best

    def _add(
        self,
        post_id: str,
        key: str,
        text: str,
        sig: tuple[int, ...] | None,
        seen_ms: int,
        named: Named | None,
    ) -> _Cluster:
        if post_id in self._clusters:  # an id reused for different text: keep the first
            post_id = f"{post_id}#{self._newest_ms}"
        cluster = _Cluster(post_id, key, text, sig, seen_ms, named)
        self._clusters[post_id] = cluster
        if key:
            self._by_key.setdefault(key, cluster)
        for value in (sig or ())[:LOOKUPS]:
            self._lookup.setdefault(value, post_id)  # a hash's first cluster answers for it
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
        for value in (cluster.sketch or ())[:LOOKUPS]:
            if self._lookup.get(value) == cluster.cluster_id:
                del self._lookup[value]
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
