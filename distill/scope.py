"""Which crises a model was trained or distilled on: recorded at training, checked by
leave-one-crisis-out evaluation.

The record (:class:`DataScope`) lives in ``runs/<run>/data_scope.json`` (written by
``train-teacher`` and ``distil``) and in an exported package's ``triage.json`` → ``data``:
``sources``, ``events`` (canonical event ids of train/dev/transfer; a student adds its teacher's
and its base run's), ``loco_events`` (crises that ``prepare --loco`` held out of every one
of them, text copies included) and ``dev_events`` (dev crises, held out the same way).

Packages and runs older than the record were prepared from :data:`distill.data.LEGACY_SOURCES`
(``legacy``): their events are every event of those sources, and a fold's posts whose text is
in those sources are dropped before scoring (:func:`legacy_keys`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.errors import TriageError
from models.package import METADATA_FILE

SCOPE_FILE = "data_scope.json"


def _both_held_out(
    mine: frozenset[str] | None, theirs: frozenset[str] | None
) -> frozenset[str] | None:
    """Crises held out of two models' data: those both held out (None: neither has a record)."""
    if mine is None or theirs is None:
        return theirs if mine is None else mine
    return mine & theirs


def _optional_set(value: Any) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@dataclass(frozen=True)
class DataScope:
    """The crises (canonical event ids) behind a model's training and distillation sets."""

    events: frozenset[str]
    loco_events: frozenset[str] | None = frozenset()  # None: no record (legacy data only)
    sources: tuple[str, ...] = ()
    legacy: bool = False  # also trained on the legacy sources (events resolved from the data)
    dev_events: frozenset[str] | None = frozenset()  # dev crises held out; None: no record

    @property
    def held_out(self) -> frozenset[str] | None:
        """Every crisis held out of the model's data (folds and dev crises; None: no record)."""
        if self.loco_events is None:
            return None
        return self.loco_events | (self.dev_events or frozenset())

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "events": sorted(self.events),
            "loco_events": None if self.loco_events is None else sorted(self.loco_events),
            "dev_events": None if self.dev_events is None else sorted(self.dev_events),
            "legacy_sources": self.legacy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataScope:
        return cls(
            events=frozenset(data.get("events") or ()),
            loco_events=_optional_set(data.get("loco_events", ())),
            sources=tuple(data.get("sources") or ()),
            legacy=bool(data.get("legacy_sources", False)),
            dev_events=_optional_set(data.get("dev_events", ())),
        )

    def merged(self, other: DataScope) -> DataScope:
        """Both models' data: a crisis is held out only if both held it out."""
        return DataScope(
            events=self.events | other.events,
            loco_events=_both_held_out(self.loco_events, other.loco_events),
            sources=tuple(dict.fromkeys(self.sources + other.sources)),
            legacy=self.legacy or other.legacy,
            dev_events=_both_held_out(self.dev_events, other.dev_events),
        )


LEGACY = DataScope(events=frozenset(), loco_events=None, legacy=True, dev_events=None)
"""A model prepared from the legacy sources, with no record of its own."""
UNRECORDED = DataScope(events=frozenset(), loco_events=frozenset(), legacy=True)
"""A model learnt from whose data is unknown: no crisis counts as held out from it."""


def scope_from_manifest(manifest: dict[str, Any]) -> DataScope:
    """The scope of a prepared data folder (its ``manifest.json``)."""
    if "training_events" not in manifest:
        return LEGACY  # prepared before manifests listed their events
    loco = manifest.get("loco") or {}
    return DataScope(
        events=frozenset(manifest["training_events"]),
        loco_events=frozenset(loco.get("events") or ()),
        sources=tuple(manifest.get("sources") or ()),
        dev_events=frozenset(loco.get("dev_events") or ()),
    )


def read_manifest_scope(data_dir: Path) -> DataScope:
    manifest_file = Path(data_dir) / "manifest.json"
    if not manifest_file.is_file():
        raise TriageError(f"no prepared data in {data_dir}: run `triage distill prepare` first")
    return scope_from_manifest(json.loads(manifest_file.read_text(encoding="utf-8")))


def write_run_scope(run_dir: Path, data_dir: Path, *models: Path) -> DataScope:
    """Record a run's scope: its prepared data plus that of ``models`` it learns from (the
    teacher package, a base run's folder). Returns what was written."""
    scope = read_manifest_scope(data_dir)
    for model in models:
        scope = scope.merged(recorded_scope(model))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SCOPE_FILE).write_text(json.dumps(scope.as_dict(), indent=2) + "\n", "utf-8")
    return scope


def run_scope(run_dir: Path, data_dir: Path) -> DataScope:
    """What a run recorded when it trained, else the scope of ``data_dir`` (runs trained before
    runs recorded it are exported with the prepared data they are calibrated on)."""
    recorded = run_dir / SCOPE_FILE
    if recorded.is_file():
        return DataScope.from_dict(json.loads(recorded.read_text("utf-8")))
    return read_manifest_scope(data_dir)


def _run_dir_scope(folder: Path) -> DataScope | None:
    """Scope of a folder inside ``runs/<run>/`` (``model``, ``package``…), if that run has one."""
    for run_dir in (folder, folder.parent):
        if (run_dir / SCOPE_FILE).is_file():
            return DataScope.from_dict(json.loads((run_dir / SCOPE_FILE).read_text("utf-8")))
    run_config = folder.parent / "config.json"
    if run_config.is_file() and "role" in json.loads(run_config.read_text("utf-8")):
        return LEGACY  # a run from before the record
    return None


def model_scope(path: str | Path) -> DataScope:
    """The recorded scope of a model package, ONNX export or Hugging Face run folder."""
    folder = Path(path)
    meta_file = folder / METADATA_FILE
    data = json.loads(meta_file.read_text("utf-8")).get("data") if meta_file.is_file() else None
    if data and "events" in data:
        return DataScope.from_dict(data)
    if data:  # a package released before packages listed their events
        return LEGACY
    scope = _run_dir_scope(folder)
    if scope is None:
        raise TriageError(
            f"cannot tell which crises {folder} was trained on: no data.events in its "
            f"{METADATA_FILE} and no {SCOPE_FILE} in its run folder"
        )
    return scope


def recorded_scope(path: str | Path) -> DataScope:
    """:func:`model_scope`, or :data:`UNRECORDED` for a model without any record."""
    try:
        return model_scope(path)
    except TriageError:
        return UNRECORDED


@lru_cache(maxsize=4)
def legacy_events(root: str | None) -> frozenset[str]:
    """Every canonical event id of the legacy sources (read from the shared data)."""
    from distill.data import LEGACY_SOURCES, load_source

    events: set[str] = set()
    for name in LEGACY_SOURCES:
        events |= set(load_source(name, root)["event_id"].unique().to_list())
    return frozenset(events)


@lru_cache(maxsize=4)
def legacy_keys(root: str | None) -> frozenset[str]:
    """Dedup keys of every row of the legacy sources (to drop their texts from a fold)."""
    import polars as pl

    from distill.data import LEGACY_SOURCES, load_source
    from distill.dedup import add_keys

    rows = pl.concat([load_source(name, root) for name in LEGACY_SOURCES])
    return frozenset(add_keys(rows)["dup_key"].to_list())


def resolved_events(scope: DataScope, root: str | None) -> frozenset[str]:
    """The scope's events, plus the legacy sources' when it is legacy."""
    return scope.events | (legacy_events(root) if scope.legacy else frozenset())


def fold_refusal(model: str, scope: DataScope, event: str, root: str | None) -> str | None:
    """Why ``model`` must not be scored on the fold of ``event``, nor have its operating point
    chosen on that dev crisis (None when it may)."""
    if event in resolved_events(scope, root):
        where = "the legacy sources it was prepared from" if scope.legacy else "its training data"
        return f"{model} was trained on {event} ({where}): not a held-out crisis for it"
    if scope.held_out is not None and event not in scope.held_out:
        return (
            f"{event} was not held out by `triage distill prepare --loco` for {model}: "
            "copies of its posts may be in its training data"
        )
    return None
