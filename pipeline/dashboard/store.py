"""The dashboard's memory: a bounded window of recent feed cards, counts, and live listeners.

One card per near-duplicate cluster: the first copy seen becomes the card (its ``id`` is the
cluster id, ``post_id`` the copy shown), later copies only raise its ``copies`` (×N: the larger
of the copies seen here and the job's ``cluster_size``) and ``latest_ts``. Totals count both
posts and distinct clusters.

Thread-safe. The Kafka feed thread adds items, counts and dead letters; HTTP handlers read
snapshots and subscribe to events. Each subscriber has a bounded queue: a browser that stops
reading is dropped (its EventSource reconnects and gets a fresh snapshot), so a slow client
never holds memory or blocks the feed.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, OrderedDict, deque
from typing import Any

from models.package import LABELS

SUBSCRIBER_QUEUE = 2000
COUNT_MINUTES = 60  # per-minute counts kept (the chart shows the last 30)
CLOSE = object()  # sentinel telling a subscriber's stream to end


class _SeenIds:
    """The last N ids seen (Kafka delivery is at-least-once: duplicates are not counted)."""

    def __init__(self, size: int):
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True when ``key`` is new."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class FeedStore:
    """Recent items (newest kept, at most ``window``), per-minute label counts, feedback state."""

    def __init__(self, window: int = 2000):
        self.window = window
        self._lock = threading.Lock()
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._feedback: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        self._labels: OrderedDict[str, tuple[str, str | None]] = (
            OrderedDict()
        )  # id → (label, model)
        self._counted = _SeenIds(window * 20)
        self._clusters = _SeenIds(window * 20)
        self._in_feed = _SeenIds(window * 20)
        self._totals = {"posts": 0, "clusters": 0}
        self._counts: dict[int, Counter[str]] = {}
        self._dead_letters = 0
        self._recent_dead: deque[dict[str, Any]] = deque(maxlen=5)
        self._subscribers: set[queue.Queue] = set()
        self.version = 0  # bumped on every change that can alter the matching board
        self.counts_version = 0
        self.labels_version = 0

    # ------------------------------------------------------------ writes (feed thread)

    def count(self, post_id: str, label: str, ts_ms: int, cluster_id: str | None = None) -> None:
        """Count one routed post in its minute and in the totals (each post id once)."""
        if label not in LABELS:
            return
        with self._lock:
            if not self._counted.add(post_id):
                return
            self._totals["posts"] += 1
            if self._clusters.add(cluster_id or post_id):
                self._totals["clusters"] += 1
            minute = ts_ms // 60_000
            self._counts.setdefault(minute, Counter())[label] += 1
            newest = max(self._counts)
            for old in [m for m in self._counts if m <= newest - COUNT_MINUTES]:
                del self._counts[old]
            self.counts_version += 1

    def add_item(self, item: dict[str, Any]) -> None:
        """Add a feed item as a new card or as one more copy on its cluster's card (a
        re-delivered post id is ignored) and tell subscribers."""
        with self._lock:
            if not self._in_feed.add(item["id"]):
                return
            key = item.get("cluster_id") or item["id"]
            card = self._items.get(key)
            if card is None:
                card = {**item, "id": key, "post_id": item["id"], "copies": 1}
                card["latest_ts"] = item["ts"]
                state = self._feedback.get(key)
                if state is not None:
                    card["status"], card["corrected_label"] = state
                self._items[key] = card
                while len(self._items) > self.window:
                    self._items.popitem(last=False)
            else:
                card["copies"] += 1
                card["latest_ts"] = max(card["latest_ts"], item["ts"])
            sizes = (card["copies"], card.get("cluster_size") or 1, item.get("cluster_size") or 1)
            card["cluster_size"] = max(sizes)
            self.version += 1
            published = dict(card)
        self.publish("item", published)

    def apply_feedback(
        self,
        post_id: str,
        action: str,
        corrected_label: str | None,
        label: str | None = None,
        model: str | None = None,
    ) -> None:
        """Record a confirmed/handled/misclassified mark (from this page or read back from
        Kafka) and, when it carries one, the post's training label (counted once per post)."""
        status = action if action in ("handled", "confirmed") else "misclassified"
        with self._lock:
            self._feedback[post_id] = (status, corrected_label)
            self._feedback.move_to_end(post_id)
            while len(self._feedback) > self.window * 5:
                self._feedback.popitem(last=False)
            if label is not None and self._labels.get(post_id) != (label, model):
                self._labels[post_id] = (label, model)
                self._labels.move_to_end(post_id)
                while len(self._labels) > self.window * 50:
                    self._labels.popitem(last=False)
                self.labels_version += 1
            item = self._items.get(post_id)
            if item is not None:
                if (item["status"], item["corrected_label"]) == (status, corrected_label):
                    return
                item["status"], item["corrected_label"] = status, corrected_label
            self.version += 1
        self.publish(
            "status", {"id": post_id, "status": status, "corrected_label": corrected_label}
        )

    def add_dead_letter(self, value: dict[str, Any] | None, ts_ms: int) -> None:
        with self._lock:
            self._dead_letters += 1
            reason = value.get("reason") if isinstance(value, dict) else None
            self._recent_dead.appendleft({"reason": reason or "unreadable", "ts": ts_ms})

    # ------------------------------------------------------------ reads

    def get(self, post_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(post_id)
            return dict(item) if item is not None else None

    def size(self) -> int:
        with self._lock:
            return len(self._items)

    def latest_model(self) -> str | None:
        """The model named by the most recently added item."""
        with self._lock:
            for item in reversed(self._items.values()):
                if item.get("model"):
                    return item["model"]
        return None

    def items(self) -> list[dict[str, Any]]:
        """Copies of the window's items, newest (by Kafka timestamp) first."""
        with self._lock:
            items = [dict(i) for i in self._items.values()]
        items.sort(key=lambda i: i["ts"], reverse=True)
        return items

    def counts(self) -> list[dict[str, Any]]:
        """``[{"minute": epoch_ms, "counts": {label: n}}]``, oldest first."""
        with self._lock:
            return [
                {"minute": minute * 60_000, "counts": {label: c[label] for label in LABELS}}
                for minute, c in sorted(self._counts.items())
            ]

    def totals(self) -> dict[str, int]:
        """Posts counted and distinct near-duplicate clusters among them."""
        with self._lock:
            return dict(self._totals)

    def label_counts(self) -> dict[str, Any]:
        """Training labels given so far: total, per class, and per model that made the
        prediction (``labels since the current model`` = ``by_model[current]``)."""
        with self._lock:
            labels = list(self._labels.values())
        by_class = Counter(label for label, _ in labels)
        return {
            "total": len(labels),
            "by_class": {label: by_class[label] for label in LABELS},
            "by_model": dict(Counter(model for _, model in labels if model)),
        }

    def dead_letters(self) -> dict[str, Any]:
        with self._lock:
            return {"seen": self._dead_letters, "recent": list(self._recent_dead)}

    # ------------------------------------------------------------ live listeners

    def subscribe(self) -> queue.Queue:
        listener: queue.Queue = queue.Queue(maxsize=SUBSCRIBER_QUEUE)
        with self._lock:
            self._subscribers.add(listener)
        return listener

    def unsubscribe(self, listener: queue.Queue) -> None:
        with self._lock:
            self._subscribers.discard(listener)

    def publish(self, event: str, data: Any) -> None:
        """Queue an event for every subscriber; one that is too far behind is dropped."""
        with self._lock:
            listeners = list(self._subscribers)
        for listener in listeners:
            try:
                listener.put_nowait((event, data))
            except queue.Full:
                self.unsubscribe(listener)
                self._close(listener)

    def close_all(self) -> None:
        """End every subscriber's stream (server shutdown)."""
        with self._lock:
            listeners = list(self._subscribers)
            self._subscribers.clear()
        for listener in listeners:
            self._close(listener)

    @staticmethod
    def _close(listener: queue.Queue) -> None:
        try:
            listener.put_nowait((CLOSE, None))
        except queue.Full:  # the stream notices on its next read timeout
            listener.queue.clear()
            listener.put_nowait((CLOSE, None))
