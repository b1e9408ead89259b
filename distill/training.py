"""The training loop shared by the teacher and the students.

Targets are encoded as label ids: 0..3 = ``LABELS``, 4 = ``actionable`` (request-or-offer merged
by the source: loss ``-log(p_request + p_offer)``), -1 = no hard label (transfer rows). Students
also get the teacher's logits (``soft``) and a temperature-scaled KL term. Checkpoints every
``checkpoint_every`` steps; a restarted run resumes from the last one (the epoch's sample order is
a pure function of the seed, so resuming skips exactly the batches already seen).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from distill.config import TrainConfig
from models.package import LABELS

ACTIONABLE_ID = len(LABELS)
NO_LABEL = -1
TARGET_IDS = {**{label: i for i, label in enumerate(LABELS)}, "actionable": ACTIONABLE_ID}


def target_ids(targets: list[str]) -> np.ndarray:
    """Target strings → label ids (``unlabelled`` → -1)."""
    return np.array([TARGET_IDS.get(t, NO_LABEL) for t in targets], dtype=np.int64)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def balanced_sample(frame: pl.DataFrame, per_class: dict[str, int], seed: int) -> pl.DataFrame:
    """At most ``per_class[target]`` rows of each target (all rows of unlisted targets)."""
    parts = []
    for (target,), rows in frame.group_by("target", maintain_order=True):
        cap = per_class.get(str(target))
        if cap is not None and rows.height > cap:
            rows = rows.sample(n=cap, seed=seed)
        parts.append(rows)
    return pl.concat(parts)


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Inverse-sqrt-frequency weights over the 5 hard targets (mean 1 over labelled rows)."""
    counts = np.bincount(labels[labels >= 0], minlength=ACTIONABLE_ID + 1).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
    mean = (weights[labels[labels >= 0]]).mean() if (labels >= 0).any() else 1.0
    return (weights / mean).astype(np.float32)


def hard_loss(logits, labels, weights):
    """Weighted cross-entropy on 4-way rows + marginal loss on ``actionable`` rows."""
    import torch
    import torch.nn.functional as F

    log_p = F.log_softmax(logits, dim=-1)
    total = logits.new_zeros(())
    mask4 = (labels >= 0) & (labels < ACTIONABLE_ID)
    mask_a = labels == ACTIONABLE_ID
    w = weights[labels.clamp(min=0)]
    if mask4.any():
        nll = -log_p[mask4].gather(1, labels[mask4].unsqueeze(1)).squeeze(1)
        total = total + (nll * w[mask4]).sum()
    if mask_a.any():
        nll_a = -torch.logsumexp(log_p[mask_a][:, :2], dim=-1)
        total = total + (nll_a * w[mask_a]).sum()
    n = (mask4 | mask_a).sum()
    return total / n.clamp(min=1)


def soft_loss(student_logits, teacher_logits, temperature: float):
    """KL(teacher_T || student_T) · T² (Hinton et al.), mean over rows."""
    import torch.nn.functional as F

    t = temperature
    p_teacher = F.softmax(teacher_logits / t, dim=-1)
    log_student = F.log_softmax(student_logits / t, dim=-1)
    return F.kl_div(log_student, p_teacher, reduction="batchmean") * t * t


@dataclass
class Batches:
    """One epoch's batches: row indices, grouped so rows of similar length share a batch."""

    batches: list[np.ndarray]

    @classmethod
    def plan(cls, lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> Batches:
        rng = np.random.default_rng(seed * 1000 + epoch)
        order = rng.permutation(len(lengths))
        chunk = batch_size * 50
        batches: list[np.ndarray] = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
        rng.shuffle(batches)
        return cls(batches)


def _save_checkpoint(path: Path, model, optimizer, scheduler, step: int) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
        },
        tmp,
    )
    os.replace(tmp, path)


def train(
    model,
    tokenizer,
    texts: list[str],
    labels: np.ndarray,
    cfg: TrainConfig,
    run_dir: Path,
    soft: np.ndarray | None = None,
    log=print,
) -> dict:
    """Train ``model`` in place; returns a summary (steps, seconds, last losses)."""
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    enc = tokenizer(texts, truncation=True, max_length=cfg.max_length)
    ids = enc["input_ids"]
    lengths = np.array([len(x) for x in ids])
    steps_per_epoch = math.ceil(len(texts) / cfg.batch_size)
    total = cfg.max_steps or max(1, int(round(cfg.epochs * steps_per_epoch)))
    weights = torch.tensor(
        class_weights(labels) if cfg.class_weighting else np.ones(ACTIONABLE_ID + 1, np.float32)
    )

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    ckpt = run_dir / "checkpoint.pt"
    step = 0
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        log(f"resumed from {ckpt} at step {step}/{total}")
    pad_id = tokenizer.pad_token_id or 0
    soft_t = torch.tensor(soft, dtype=torch.float32) if soft is not None else None
    labels_t = torch.tensor(labels)

    model.train()
    started = time.time()
    seen = 0
    history: list[dict] = []
    bar = tqdm(total=total, initial=step, desc=cfg.name, mininterval=10)
    epoch = step // steps_per_epoch
    while step < total:
        plan = Batches.plan(lengths, cfg.batch_size, cfg.seed, epoch).batches
        for b_index in range(step % steps_per_epoch, len(plan)):
            if step >= total:
                break
            idx = plan[b_index]
            width = int(lengths[idx].max())
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                input_ids[row, : lengths[i]] = torch.tensor(ids[i])
                attention[row, : lengths[i]] = 1
            logits = model(input_ids=input_ids, attention_mask=attention).logits
            y = labels_t[idx]
            loss_hard = hard_loss(logits, y, weights)
            if soft_t is not None:
                loss_soft = soft_loss(logits, soft_t[idx], cfg.temperature)
                has_hard = (y >= 0).any()
                loss = (
                    cfg.alpha * loss_soft + (1 - cfg.alpha) * loss_hard if has_hard else loss_soft
                )
            else:
                loss_soft = torch.zeros(())
                loss = loss_hard
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(idx)
            bar.update(1)
            history.append(
                {
                    "step": step,
                    "loss": float(loss),
                    "hard": float(loss_hard),
                    "soft": float(loss_soft),
                }
            )
            if step % 10 == 0:
                recent = history[-10:]
                rate = seen / max(time.time() - started, 1e-6)
                log(
                    f"step {step}/{total} loss {np.mean([h['loss'] for h in recent]):.4f} "
                    f"hard {np.mean([h['hard'] for h in recent]):.4f} "
                    f"soft {np.mean([h['soft'] for h in recent]):.4f} {rate:.1f} samples/s"
                )
            if step % cfg.checkpoint_every == 0 or step == total:
                _save_checkpoint(ckpt, model, optimizer, scheduler, step)
        epoch += 1
    bar.close()
    model.eval()
    summary = {
        "steps": step,
        "train_rows": len(texts),
        "seconds_this_session": round(time.time() - started, 1),
        "samples_per_second": round(seen / max(time.time() - started, 1e-6), 2),
        "final_loss": float(np.mean([h["loss"] for h in history[-20:]])) if history else None,
    }
    (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary
