"""A model repository (``PATH/<version>/``, the Triton / TF-Serving layout) and live swapping.

``--model PATH`` names either one package (a folder with ``triage.json``) or a repository: a
folder whose subfolders named by a version (``1``, ``2``, ``1.5.0``) are packages. The job
serves the highest version that is valid (checksums verify, the graph loads and classifies a
probe post) and, every ``poll_s`` seconds, switches to a newer valid one without a restart.
An invalid version is refused once (a log line and the ``on_refused`` hook) and the old one
keeps serving. Folders whose names are not versions (e.g. ``.staging-3`` being written) are
ignored, so a publisher writes a version elsewhere and renames it into place.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.errors import ModelPackageError, TriageError
from models.package import METADATA_FILE, ModelPackage, resolve_model
from models.runtime import OnnxClassifier, Prediction, RuntimeOptions

_LOGGER = logging.getLogger(__name__)
DEFAULT_POLL_S = 30.0


def version_key(name: str) -> tuple[int, ...] | None:
    """``"12"`` → (12,), ``"1.5.0"`` → (1, 5, 0); None for a name that is not a version."""
    parts = name.split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def is_repository(path: Path) -> bool:
    """True for a folder without ``triage.json`` holding at least one version folder."""
    if not path.is_dir() or (path / METADATA_FILE).is_file():
        return False
    return any(child.is_dir() and version_key(child.name) for child in path.iterdir())


def version_folders(root: Path) -> list[Path]:
    """The version folders of a repository, lowest version first."""
    found = [c for c in root.iterdir() if c.is_dir() and version_key(c.name) is not None]
    return sorted(found, key=lambda c: version_key(c.name) or ())


def bumped(version: str, part: str = "patch") -> str:
    """``1.4.0`` → ``1.4.1`` (``part="minor"``: ``1.5.0``); ``12`` → ``13``. A name that is not a
    version gets ``.1`` appended (a repository would not serve it: publish with
    :func:`next_version` instead)."""
    key = version_key(version)
    if key is None:
        return f"{version}.1"
    if part == "minor" and len(key) >= 2:
        return ".".join(str(p) for p in (*key[:-2], key[-2] + 1, 0))
    return ".".join(str(p) for p in (*key[:-1], key[-1] + 1))


def next_version(root: Path) -> str:
    """The name of the version after the highest one (``1`` for an empty repository)."""
    folders = version_folders(root) if root.is_dir() else []
    if not folders:
        return "1"
    return bumped(folders[-1].name)


def publish(package_dir: Path, repository: Path, version: str) -> Path:
    """Copy a package into ``repository/<version>/`` atomically: it is written under a
    non-version name (``.staging-<version>``, ignored by the job) and renamed into place."""
    target = repository / version
    if target.exists():
        raise ModelPackageError(
            f"{target} already exists: a published version is never overwritten"
        )
    repository.mkdir(parents=True, exist_ok=True)
    staging = repository / f".staging-{version}"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(package_dir, staging)
    staging.rename(target)
    return target


def ensure_repository(repository: Path, base: ModelPackage) -> Path:
    """A repository with at least one version: an empty or missing one gets ``base`` as its
    first version (``repository/<base version>/``, an exact copy). Returns the repository."""
    if repository.is_dir() and version_folders(repository):
        return repository
    version = base.version if version_key(base.version) else "1"
    publish(base.path, repository, version)
    return repository


@dataclass(frozen=True)
class Refusal:
    """A version the repository refused to serve, and why (one line)."""

    path: Path
    reason: str


def load_checked(path: Path, options: RuntimeOptions) -> OnnxClassifier:
    """Verify, load and probe one package; ModelPackageError (one line) when it is unusable."""
    classifier = OnnxClassifier(ModelPackage.load(path), options)
    classifier.self_test()
    return classifier


class ModelRepository:
    """``--model PATH``: a single package, or a repository of versions."""

    def __init__(self, path: str | Path | None):
        self.path = resolve_model(path)
        self.is_repository = is_repository(self.path)
        self._refused: dict[Path, float] = {}  # version folder → triage.json mtime refused

    def describe(self) -> str:
        kind = "model repository" if self.is_repository else "model package"
        return f"{kind} {self.path}"

    def newest(
        self, options: RuntimeOptions, newer_than: tuple[int, ...] | None = None
    ) -> tuple[OnnxClassifier | None, list[Refusal]]:
        """The highest valid version (above ``newer_than``), and the versions refused on the
        way. A single package is returned as it is (errors raise)."""
        if not self.is_repository:
            return load_checked(self.path, options), []
        refusals: list[Refusal] = []
        for folder in reversed(version_folders(self.path)):
            key = version_key(folder.name)
            if newer_than is not None and key is not None and key <= newer_than:
                break
            stamp = _mtime(folder / METADATA_FILE)
            if self._refused.get(folder) == stamp:
                continue  # refused before and unchanged: do not log it every poll
            try:
                return load_checked(folder, options), refusals
            except (ModelPackageError, TriageError) as exc:
                self._refused[folder] = stamp
                refusals.append(Refusal(folder, str(exc)))
        return None, refusals


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


class LiveModel:
    """The serving model: a classifier that swaps itself for a repository's newer versions.

    ``predict`` takes the current classifier once per call, so every batch is classified by
    exactly one version, whose package also supplies the calibration and review thresholds.
    A daemon thread polls the repository every ``poll_s`` seconds (0: never) and replaces the
    classifier only after the new version loaded and passed its probe.
    """

    def __init__(
        self,
        repository: ModelRepository,
        options: RuntimeOptions | None = None,
        poll_s: float = DEFAULT_POLL_S,
        on_swap: Callable[[ModelPackage, ModelPackage], None] | None = None,
        on_refused: Callable[[Refusal], None] | None = None,
    ):
        self.repository = repository
        self.options = options or RuntimeOptions()
        self._on_swap = on_swap
        self._on_refused = on_refused
        current, refusals = repository.newest(self.options)
        self._report(refusals)
        if current is None:
            reasons = "; ".join(r.reason for r in refusals) or "it holds no version folder"
            raise ModelPackageError(f"no valid version in {repository.describe()}: {reasons}")
        self._current = current
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if repository.is_repository and poll_s > 0:
            self._thread = threading.Thread(
                target=self._watch, args=(poll_s,), name="model-poll", daemon=True
            )
            self._thread.start()

    @property
    def package(self) -> ModelPackage:
        return self._current.package

    @property
    def model_id(self) -> str:
        return self._current.model_id

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self._current.predict(texts)

    def predict_proba(self, texts: Sequence[str]):  # noqa: ANN201 - numpy array
        return self._current.predict_proba(texts)

    def check_for_update(self) -> bool:
        """Look for a newer valid version now; True when one was swapped in."""
        if not self.repository.is_repository:
            return False
        old = self._current
        newer, refusals = self.repository.newest(
            self.options, newer_than=version_key(old.package.path.name)
        )
        self._report(refusals)
        if newer is None:
            return False
        self._current = newer
        _LOGGER.warning("model swapped: %s → %s", old.model_id, newer.model_id)
        if self._on_swap is not None:
            self._on_swap(old.package, newer.package)
        return True

    def close(self) -> None:
        self._stop.set()

    def _watch(self, poll_s: float) -> None:
        while not self._stop.wait(poll_s):
            try:
                self.check_for_update()
            except Exception:  # noqa: BLE001 - the poller must outlive any one bad version
                _LOGGER.exception("checking %s for a new model failed", self.repository.path)

    def _report(self, refusals: list[Refusal]) -> None:
        for refusal in refusals:
            _LOGGER.error("model version %s refused: %s", refusal.path, refusal.reason)
            if self._on_refused is not None:
                self._on_refused(refusal)
