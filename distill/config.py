"""Run configurations: one JSON file per run (``distill/configs/*.json``), copied into packages."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from models.errors import TriageError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = REPO_ROOT / "runs"


RUN_BASE_PREFIX = "run:"  # TrainConfig.base naming an earlier run's trained model


def base_run_name(base: str) -> str | None:
    """``<name>`` of a ``run:<name>`` base (an earlier run whose trained model a run starts
    from), else None."""
    return base.removeprefix(RUN_BASE_PREFIX) if base.startswith(RUN_BASE_PREFIX) else None


def _default_sources() -> list[str]:
    from distill.data import SOURCES  # polars: imported only when a config is built

    return list(SOURCES)


@dataclass
class DataConfig:
    """How ``triage distill prepare`` builds the splits."""

    seed: int = 13
    held_out_events: list[str] = field(
        default_factory=lambda: [
            "2013_typhoon_yolanda",
            "2012_colorado_wildfires",
            "2013_savar_building_collapse",
            "2014_philippines_typhoon_hagupit",
            "2015_cyclone_pam",
            "2013_oklahoma_tornado",
            "2012_sandy_hurricane",
        ]
    )
    excluded_events: list[str] = field(
        default_factory=lambda: [
            "2012_costa_rica_earthquake",
            "2012_guatemala_earthquake",
            "2012_italy_earthquakes",
            "2012_venezuela_refinery",
            "2013_sardinia_floods",
            "2013_brazil_nightclub_fire",
            "2013_spain_train_crash",
        ]
    )
    english_only: bool = True
    dev_fraction: float = 0.08
    test_cap: int = 1500
    transfer_cap: int = 40000
    sources: list[str] = field(default_factory=_default_sources)
    # leave-one-crisis-out: canonical event ids whose every row (any source, and any copy of its
    # text elsewhere) stays out of train/dev/transfer; each becomes a test fold (test/loco/)
    loco_events: list[str] = field(default_factory=list)
    # dev crises: held out exactly like loco_events, written to test/loco-dev/, for choosing
    # operating points on crises a model never saw (never on a fold)
    dev_events: list[str] = field(default_factory=list)


@dataclass
class TrainConfig:
    """One teacher or student training run."""

    name: str
    role: str  # "teacher" | "student"
    base: str = "minilm"  # "mpnet" | "minilm" | "run:<name>" (an earlier run's trained model)
    layers: list[int] | None = None  # keep these encoder layers of the base (None: all)
    prune_vocab: bool = False
    vocab_min_count: int = 2  # prune_vocab: keep corpus tokens seen at least this often
    quantize_embeddings: bool = True  # False: word embeddings stay fp32 (Gather not quantised)
    freeze_layers: int = 0  # teacher: freeze embeddings + this many lower layers
    max_length: int = 64
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    epochs: float = 1.0
    max_steps: int = 0  # >0 overrides epochs
    per_class: dict[str, int] = field(default_factory=dict)  # sample caps per target per epoch
    transfer_rows: int = 0  # student: unlabelled rows mixed in
    augment_rows: int = 0  # student: word-replaced copies labelled by the teacher only
    augment_probability: float = 0.3  # student: chance each replaceable word is swapped
    temperature: float = 2.0  # student: distillation temperature
    alpha: float = 0.7  # student: weight of the soft (teacher) loss
    class_weighting: bool = True
    seed: int = 13
    threads: int = 2
    checkpoint_every: int = 100
    version: str = "1.0.0"
    description: str = ""

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a run config; a bare name means ``distill/configs/<name>.json``."""
        candidate = Path(path)
        if not candidate.suffix:
            candidate = CONFIG_DIR / f"{path}.json"
        if not candidate.is_file():
            raise TriageError(f"config {candidate} not found (see distill/configs/)")
        raw: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise TriageError(f"{candidate}: unknown keys {sorted(unknown)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def run_dir(self, runs: Path = RUNS_DIR) -> Path:
        return runs / self.name
