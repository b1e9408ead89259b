"""``triage learn``: responders' labels → a fine-tuned, calibrated, gated next model version.

1. Labels: feedback messages (``pipeline.feedback``) → one label per post; bad ones are counted
   and skipped. A seeded, stratified share is held out to judge the new model.
2. Model: the serving package's own weights, rebuilt in PyTorch from its ONNX graph
   (``distill.from_onnx``), fine-tuned on the labels mixed with a replay sample of its original
   training data (so it does not forget), with the project's training loop (``distill.training``).
3. Package: exported, fused and quantised like a release; temperature and review thresholds
   refitted on a dev sample; review floors kept from the base package.
4. Gate: the new version ships only if it loses at most ``max_loss`` macro-F1 on every standing
   test set and does better than the base on the held-out labels. The verdict and figures go
   into ``triage.json`` (``learning``) and the model card.
5. Publish: the next version is written into a model repository (``REPO/<version>/``, created
   with the base package as its first version), staged under a non-version name and renamed
   into place, so a running job never sees half a package.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import TriageError
from models.package import LABELS, METADATA_FILE, ModelPackage
from pipeline.feedback import LabelledPost

DEFAULT_MIN_LABELS = 50
HOLDOUT_SHARE = 0.2
MAX_MACRO_F1_LOSS = 0.01


@dataclass(frozen=True)
class LearnOptions:
    """Knobs of one learning step (the CLI's flags)."""

    min_labels: int = DEFAULT_MIN_LABELS
    replay_rows: int = 2000
    feedback_repeats: int = 3  # each labelled post is seen this many times per epoch
    epochs: float = 2.0
    lr: float = 3e-5
    batch_size: int = 16
    holdout_share: float = HOLDOUT_SHARE
    max_loss: float = MAX_MACRO_F1_LOSS
    dev_rows: int = 3000
    test_rows: int = 0  # >0: cap each standing test set (faster, noisier gate)
    gate: bool = True  # False: skip the standing-test-set gate (recorded in the card)
    threads: int = 2
    seed: int = 13


@dataclass
class Verdict:
    """The gate's decision and the figures behind it."""

    ships: bool
    reasons: list[str] = field(default_factory=list)
    holdout: dict[str, Any] = field(default_factory=dict)
    standing: dict[str, dict[str, float]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"gate: {'SHIP' if self.ships else 'REFUSED'}"]
        out += [f"  {r}" for r in self.reasons]
        return out


@dataclass
class LearnResult:
    package: Path
    version: str
    verdict: Verdict
    labels: int
    skipped: dict[str, int]
    seconds: dict[str, float]
    published: Path | None = None


def split_holdout(
    posts: Sequence[LabelledPost], share: float, seed: int
) -> tuple[list[LabelledPost], list[LabelledPost]]:
    """(train, held out): ``share`` of each label's posts held out (at least one of a label
    with 2+ posts), seeded."""
    rng = np.random.default_rng(seed)
    train: list[LabelledPost] = []
    held: list[LabelledPost] = []
    for label in LABELS:
        group = [p for p in posts if p.label == label]
        order = rng.permutation(len(group))
        n_held = int(round(len(group) * share))
        if len(group) >= 2:
            n_held = max(1, n_held)
        held += [group[i] for i in order[:n_held]]
        train += [group[i] for i in order[n_held:]]
    return train, held


def _macro_f1(gold: Sequence[str], probabilities: np.ndarray) -> float:
    from distill.metrics import score_task

    return float(score_task(list(gold), probabilities, "4way")["macro_f1"])


def _accuracy(gold: Sequence[str], probabilities: np.ndarray) -> float:
    predicted = [LABELS[i] for i in probabilities.argmax(axis=1)]
    return float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)]))


def _request_recall(gold: Sequence[str], probabilities: np.ndarray) -> float | None:
    wanted = [i for i, g in enumerate(gold) if g == "request"]
    if not wanted:
        return None
    return float(np.mean(probabilities[wanted].argmax(axis=1) == LABELS.index("request")))


def gate(
    base_holdout: np.ndarray,
    new_holdout: np.ndarray,
    holdout_gold: Sequence[str],
    standing: dict[str, tuple[float, float]],
    max_loss: float,
) -> Verdict:
    """Ship only if no standing set loses more than ``max_loss`` macro-F1 and the held-out
    labels are classified better (accuracy; ties broken by macro-F1)."""
    verdict = Verdict(ships=True)
    base_acc, new_acc = _accuracy(holdout_gold, base_holdout), _accuracy(holdout_gold, new_holdout)
    base_f1, new_f1 = _macro_f1(holdout_gold, base_holdout), _macro_f1(holdout_gold, new_holdout)
    verdict.holdout = {
        "posts": len(holdout_gold),
        "accuracy": {"base": round(base_acc, 4), "new": round(new_acc, 4)},
        "macro_f1": {"base": round(base_f1, 4), "new": round(new_f1, 4)},
        "request_recall": {
            "base": _request_recall(holdout_gold, base_holdout),
            "new": _request_recall(holdout_gold, new_holdout),
        },
    }
    gained = new_acc > base_acc or (new_acc == base_acc and new_f1 > base_f1)
    verdict.reasons.append(
        f"held-out feedback ({len(holdout_gold)} posts): accuracy {base_acc:.3f} → {new_acc:.3f}, "
        f"macro-F1 {base_f1:.3f} → {new_f1:.3f} ({'gain' if gained else 'no gain'})"
    )
    verdict.ships &= gained
    for name, (base, new) in standing.items():
        verdict.standing[name] = {"base": round(base, 4), "new": round(new, 4)}
        ok = new >= base - max_loss
        verdict.reasons.append(
            f"{name}: macro-F1 {base:.3f} → {new:.3f} ({'ok' if ok else f'loses > {max_loss:.2f}'})"
        )
        verdict.ships &= ok
    return verdict


def _replay_sample(train: Any, rows: int, seed: int) -> Any:
    """A label-stratified replay sample of the base model's training data (4-way rows)."""
    import polars as pl

    four = train.filter(pl.col("target").is_in(list(LABELS)))
    if four.height <= rows:
        return four
    per_label = max(1, rows // len(LABELS))
    parts = []
    for label in LABELS:
        group = four.filter(pl.col("target") == label)
        parts.append(group.sample(min(per_label, group.height), seed=seed))
    return pl.concat(parts)


def package_probabilities(package_dir: Path, texts: list[str], threads: int) -> np.ndarray:
    """A package's calibrated probabilities for ``texts`` (in chunks of 256 posts)."""
    from models.runtime import OnnxClassifier, RuntimeOptions

    classifier = OnnxClassifier(ModelPackage.load(package_dir), RuntimeOptions(threads))
    out = [classifier.predict_proba(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def _quantize_like_base(base: ModelPackage) -> Any:
    from distill.quantize import QuantizeOptions

    described = str(base.extra.get("quantization", ""))
    return QuantizeOptions(quantize_embeddings="embeddings kept fp32" not in described)


def learn(
    base_model: str | Path | None,
    posts: Sequence[LabelledPost],
    skipped: Counter,
    data_dir: Path,
    work_dir: Path,
    options: LearnOptions = LearnOptions(),  # noqa: B008 - frozen dataclass
    publish: Path | None = None,
    log: Callable[[str], None] = print,
) -> LearnResult:
    """Run one learning step (see the module docstring); returns where the package is."""
    import polars as pl

    from distill.calibrate import fit_temperature, review_thresholds, softmax
    from distill.config import TrainConfig
    from distill.export import export_folder
    from distill.from_onnx import rebuild_torch_model
    from distill.package_model import write_package
    from distill.quantize import fuse_transformer, quantize_dynamic_int8
    from distill.splits import load_prepared
    from distill.training import target_ids, train
    from models.preprocess import PREPROCESSORS
    from models.repository import LiveModel, ModelRepository

    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[name] = round(now - clock, 1)
        clock = now

    if len(posts) < options.min_labels:
        raise TriageError(
            f"only {len(posts)} usable label(s) (--min-labels {options.min_labels}): label more "
            "posts in the dashboard's review queue, or lower --min-labels"
        )
    base = LiveModel(ModelRepository(base_model), poll_s=0).package
    log(f"base model {base.model_id} ({base.path}); {len(posts)} labels, skipped {dict(skipped)}")
    data = load_prepared(data_dir)
    preprocess = PREPROCESSORS[str(base.extra.get("preprocessing", "none"))]
    train_posts, held = split_holdout(posts, options.holdout_share, options.seed)
    if not held:
        raise TriageError("no label could be held out to judge the new model: label more posts")
    replay = _replay_sample(data["train"], options.replay_rows, options.seed)
    texts = [preprocess(p.text) for p in train_posts] * options.feedback_repeats
    targets = [p.label for p in train_posts] * options.feedback_repeats
    texts += replay["text"].to_list()
    targets += replay["target"].to_list()
    log(
        f"training rows: {len(train_posts)} labels × {options.feedback_repeats} + "
        f"{replay.height} replay rows; {len(held)} labels held out"
    )

    work_dir.mkdir(parents=True, exist_ok=True)
    probe = [p.text for p in posts][:200] + data["dev"]["text"].head(200).to_list()
    model, agreement = rebuild_torch_model(base.path, probe)
    log(f"rebuilt {base.model_id} in PyTorch from its ONNX graph ({agreement:.1%} label agreement)")
    lap("rebuild")

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    cfg = TrainConfig(
        name=f"{base.name}-learn",
        role="student",
        max_length=base.max_length,
        batch_size=options.batch_size,
        lr=options.lr,
        epochs=options.epochs,
        seed=options.seed,
        threads=options.threads,
        checkpoint_every=10**9,
    )
    ckpt = work_dir / "checkpoint.pt"
    if ckpt.exists():
        ckpt.unlink()  # a learning step always starts from the serving model
    summary = train(model, tokenizer, texts, target_ids(targets), cfg, work_dir, log=log)
    model.eval()
    hf_dir = work_dir / "model"
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    lap("train")

    onnx_fp32, exporter = export_folder(hf_dir, work_dir / "onnx")
    fused = fuse_transformer(onnx_fp32, work_dir / "onnx-fused")
    quantization = _quantize_like_base(base)
    onnx_int8 = quantize_dynamic_int8(fused, work_dir / "onnx-int8" / "model.onnx", quantization)
    version = new_version(base, publish)
    meta = {"name": base.name, "version": version, "max_length": base.max_length}
    draft = write_package(work_dir / "draft", onnx_int8, hf_dir, {**meta, "precision": "int8"})
    lap("export")

    dev = data["dev"].filter(pl.col("target").is_in(list(LABELS)))
    dev = dev.sample(min(options.dev_rows, dev.height), seed=options.seed)
    dev_logits = np.log(
        np.clip(package_probabilities(draft, dev["text"].to_list(), options.threads), 1e-9, 1.0)
    )
    y = target_ids(dev["target"].to_list())
    temperature = fit_temperature(dev_logits, y)
    target_precision = base.extra.get("calibration", {}).get("target_precision")
    thresholds, report = (
        review_thresholds(softmax(dev_logits, temperature), y, target_precision or {})
        if target_precision
        else (dict(base.thresholds), {})
    )
    lap("calibrate")

    held_texts, held_gold = [p.text for p in held], [p.label for p in held]
    full_meta = {
        **{k: v for k, v in base.extra.items() if k not in ("learning", "dev", "parity")},
        **meta,
        "temperature": temperature,
        "thresholds": thresholds,
        "review_floors": dict(base.review_floors),
        "precision": "int8",
        "quantization": quantization.describe(),
        "exporter": exporter,
    }
    package = write_package(work_dir / "package", onnx_int8, hf_dir, full_meta)
    base_held = package_probabilities(base.path, held_texts, options.threads)
    new_held = package_probabilities(package, held_texts, options.threads)
    standing: dict[str, tuple[float, float]] = {}
    if options.gate:
        from distill.metrics import score_task

        for name, frame in sorted(_standing_sets(data, options.test_rows, options.seed).items()):
            task, gold, texts_ = frame["task"][0], frame["gold"].to_list(), frame["text"].to_list()
            scores = [
                score_task(gold, package_probabilities(p, texts_, options.threads), task)
                for p in (base.path, package)
            ]
            scores = [s["macro_f1"] for s in scores]
            standing[name] = (float(scores[0]), float(scores[1]))
            log(f"  {name}: macro-F1 {scores[0]:.3f} → {scores[1]:.3f}")
    verdict = gate(base_held, new_held, held_gold, standing, options.max_loss)
    if not options.gate:
        verdict.reasons.append("standing test sets NOT checked (--no-gate)")
    lap("gate")

    learning = {
        "base": base.model_id,
        "labels": len(posts),
        "labels_by_class": dict(Counter(p.label for p in posts)),
        "held_out": len(held),
        "skipped_feedback": dict(skipped),
        "replay_rows": replay.height,
        "options": asdict(options),
        "rebuild_agreement": round(agreement, 4),
        "calibration": {"dev_rows": dev.height, "per_label": report},
        "training": summary,
        "verdict": {
            "ships": verdict.ships,
            "reasons": verdict.reasons,
            "holdout": verdict.holdout,
            "standing": verdict.standing,
        },
        "seconds": seconds,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    readme = _card(base, learning)
    package = write_package(
        work_dir / "package", onnx_int8, hf_dir, {**full_meta, "learning": learning}, readme
    )
    result = LearnResult(package, version, verdict, len(posts), dict(skipped), seconds)
    if publish is not None and verdict.ships:
        result.published = publish_version(package, publish, base)
    return result


def _standing_sets(data: dict[str, Any], cap: int, seed: int) -> dict[str, Any]:
    sets = {k: v for k, v in data.items() if k not in ("train", "dev", "transfer")}
    if cap > 0:
        sets = {k: v.sample(min(cap, v.height), seed=seed) for k, v in sets.items()}
    return sets


def new_version(base: ModelPackage, publish: Path | None) -> str:
    """The learned package's version: the next one of the repository it will be published to
    (created with the base as its first version if missing or empty, so the new version always
    sorts above the base), else the base's version with its last part bumped."""
    from models.repository import bumped, ensure_repository, next_version

    if publish is None:
        return bumped(base.version)
    return next_version(ensure_repository(publish, base))


def publish_version(package: Path, repository: Path, base: ModelPackage) -> Path:
    """Write ``package`` as ``repository/<its version>/`` (staged, then renamed). A repository
    that does not exist yet is created with the base package as its first version."""
    from models.repository import ensure_repository, publish

    ensure_repository(repository, base)
    meta = json.loads((package / METADATA_FILE).read_text("utf-8"))
    return publish(package, repository, str(meta["version"]))


def _card(base: ModelPackage, learning: dict[str, Any]) -> str:
    """The model card: the base card plus what this learning step did and the gate's verdict."""
    base_card = (
        (base.path / "README.md").read_text("utf-8") if (base.path / "README.md").is_file() else ""
    )
    verdict = learning["verdict"]
    lines = [
        f"## Learned from responders' labels ({learning['created']})",
        "",
        f"Fine-tuned from **{learning['base']}** on {learning['labels']} labelled posts "
        f"({', '.join(f'{k} {v}' for k, v in learning['labels_by_class'].items())}; "
        f"{learning['held_out']} held out to judge it) mixed with {learning['replay_rows']} "
        "replay rows of the base model's training data; weights rebuilt from the base ONNX "
        f"graph ({learning['rebuild_agreement']:.1%} label agreement). Temperature and review "
        "thresholds refitted on dev; review floors kept from the base.",
        "",
        f"Gate: **{'shipped' if verdict['ships'] else 'refused'}**",
        "",
        *[f"- {reason}" for reason in verdict["reasons"]],
        "",
        f"Rebuild with: `triage learn --model <base> --feedback-file <the same feedback>` "
        f"(seed {learning['options']['seed']}).",
        "",
    ]
    return "\n".join(lines) + "\n" + base_card
