"""README.md model card of a shipped package (evaluation/speed tables are filled in later by
``triage distill evaluate`` / ``benchmark`` between the ``<!-- EVAL -->``/``<!-- SPEED -->``
markers)."""

from __future__ import annotations

import json
from typing import Any

from distill.config import base_run_name
from distill.data import LEGACY_SOURCES


def _table(rows: dict[str, dict]) -> str:
    lines = ["| split | rows | labels |", "|---|---|---|"]
    for name, info in rows.items():
        labels = ", ".join(f"{k} {v}" for k, v in info["labels"].items())
        lines.append(f"| {name} | {info['rows']} | {labels} |")
    return "\n".join(lines)


def _augmented(cfg: dict[str, Any]) -> str:
    """Recipe words for the TinyBERT-style copies (``distill.augment``), if the run used them."""
    rows = int(cfg.get("augment_rows") or 0)
    if rows <= 0:
        return ""
    return (
        f" + {rows} word-replaced copies of those posts (each content word swapped with"
        f" probability {cfg.get('augment_probability', 0.3)} for a nearest neighbour in the"
        " teacher's word-embedding table; `distill/augment.py`), labelled by the teacher only"
    )


SOURCE_NAMES = {
    "humaid": "HumAID, 19 events 2016–19",
    "humaid_maria": "HumAID Hurricane Maria",
    "smerp2017": "SMERP 2017 Italy earthquake",
    "crisismmd": "CrisisMMD text labels, 7 events of 2017",
    "crisisnlp_volunteers": "CrisisNLP volunteer labels",
    "crisisnlp_cf": "CrisisNLP CrowdFlower labels",
    "crisislext26": "CrisisLexT26",
    "crisislext6": "CrisisLexT6",
    "kaggle": "Kaggle only for testing",
}


def _sources_text(manifest: dict[str, Any]) -> str:
    """The prepared sources in words (manifests from before they were listed: the old ones)."""
    sources = manifest.get("sources") or LEGACY_SOURCES
    return "; ".join(SOURCE_NAMES.get(name, name) for name in sources)


def _loco_text(manifest: dict[str, Any]) -> str:
    events = (manifest.get("loco") or {}).get("events") or []
    if not events:
        return ""
    return (
        f"; leave-one-crisis-out: {', '.join(events)} held out of train, dev and transfer in "
        "every source (text copies included)"
    )


def model_card(meta: dict[str, Any], manifest: dict[str, Any]) -> str:
    """Markdown model card from the package metadata and the data manifest."""
    cfg = meta["training_config"]
    layers = cfg.get("layers")
    arch = (
        f"MiniLM-L6-H384 with encoder layers {layers} of 6 kept"
        if layers
        else "all-MiniLM-L6-v2 (6 layers, hidden 384)"
    )
    vocab = (
        " and a WordPiece vocabulary pruned to the crisis corpus" if cfg.get("prune_vocab") else ""
    )
    base_run = base_run_name(str(cfg.get("base", "")))
    if base_run:
        arch += f", initialised from the trained `{base_run}` student (its weights, not MiniLM's)"
    base_step = f"triage distill distil --config {base_run}\n" if base_run else ""
    dev = meta["dev"]
    cal = meta["calibration"]["per_label"]
    cal_rows = "\n".join(
        f"| {label} | {meta['thresholds'][label]} | {info['precision']} | {info['coverage']} | "
        f"{info['support']} |"
        for label, info in cal.items()
    )
    held = ", ".join(manifest["config"]["held_out_events"])
    return f"""# {meta["name"]} {meta["version"]}

Classifies a crisis social-media post as **request**, **offer**, **emotional_support** or
**other** (labels in this order). Distilled student for the crisis-triage streaming job; runs
with ONNX Runtime on CPU (`models.runtime.OnnxClassifier`), which applies the package's
preprocessing `{meta.get("preprocessing")}` (`models.preprocess.normalize_text`: HTML entities,
mojibake, URLs → `http`, mentions → `@user`) exactly as in training.

- Architecture: {arch}{vocab}; a linear classification head. Student of a fine-tuned
  all-mpnet-base-v2 teacher (runs/teacher).
- Weights: ONNX, {meta["quantization"]}; exported with {meta["exporter"]}.
- max_length {meta["max_length"]} tokens; temperature {meta["temperature"]} (fitted on dev).

## Data

Public crisis tweet datasets read from `../shared/data` ({_sources_text(manifest)}), mapped
to the four labels by `distill/label_mapping.csv` (merged request-or-offer classes become
`actionable`: trained with the marginal loss -log(p_request + p_offer)). Posts are normalised and
de-duplicated across all sources (retweets included) *before* splitting. Whole events are held
out for testing: {held}{_loco_text(manifest)}; HumAID keeps its own train/dev/test split.
Non-English events are dropped. Research-use terms of the sources apply to the data; no post is
shipped here.

{_table(manifest["splits"])}

## Recipe

1. Teacher: all-mpnet-base-v2 + classification head, fine-tuned on a class-balanced sample of
   train (weighted cross-entropy + actionable marginal loss, lower layers frozen).
2. Teacher logits (ONNX fp32, parity-checked) cached for {cfg["name"]}'s distillation set:
   per-class caps {json.dumps(cfg["per_class"])} of train + {cfg["transfer_rows"]} unlabelled
   transfer posts{_augmented(cfg)}.
3. Student: {cfg["alpha"]} · T² · KL(teacher_T ‖ student_T) + {round(1 - cfg["alpha"], 3)} · hard
   loss, T = {cfg["temperature"]}, batch {cfg["batch_size"]}, lr {cfg["lr"]},
   {meta["training"]["steps"]} steps, seed {cfg["seed"]}. Training config: `triage.json`
   → `training_config`.
4. ONNX export (optimum); the last encoder layer is exported for the [CLS] row only
   (`distill/cls_head.py`: same weights and logits, ~5/6 less work in that layer), the graph is
   fused (attention, bias-GELU) and quantised to dynamic int8 as listed under *Weights* above;
   calibration on dev (temperature + review thresholds).

Rebuild (CPU, 2 cores; data in `../shared/data` or `$TRIAGE_DATA`):

```
triage distill prepare
triage distill train-teacher --config teacher
triage distill export --config teacher
{base_step}triage distill distil --config {cfg["name"]}
triage distill export --config {cfg["name"]} --ship
```

## Checks recorded at build time (dev split, in-distribution events)

- ONNX fp32 vs PyTorch max |Δ logit|: {meta["parity"]["onnx_fp32_vs_torch_max_abs_logit_diff"]:.2e}
  ({meta["parity"]["parity_rows"]} posts)
- int8 vs fp32 label agreement: {meta["parity"]["int8_vs_fp32_label_agreement_dev"]:.4f}
  ({meta["parity"]["dev_rows"]} posts)
- dev macro-F1 (4-way, int8): {dev["int8"]["macro_f1_4way"]}; fp32: {dev["fp32"]["macro_f1_4way"]};
  actionable-vs-not F1 (int8): {dev["int8"]["f1_actionable"]}

Review thresholds (a prediction whose calibrated confidence is below its label's threshold
goes to the review queue; chosen so that dev precision above it is ≥
{meta["calibration"]["target_precision"]} where reachable):

| label | threshold | dev precision above | coverage | predicted |
|---|---|---|---|---|
{cal_rows}

## Evaluation (held-out events, test sets)

<!-- EVAL -->
Not filled in yet: run `triage distill evaluate`.
<!-- /EVAL -->

## Speed

<!-- SPEED -->
Not filled in yet: run `triage distill benchmark`.
<!-- /SPEED -->

## Limitations

English only. Source label definitions differ (many "requests" are appeals to donate, many
"offers" are reports of aid delivered); the request class is rare in training data. Dev numbers
above come from the same events as training; held-out event results are the honest estimate.
"""
