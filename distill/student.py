"""Student models derived from all-MiniLM-L6-v2: the whole thing (Small) or fewer layers and
a vocabulary pruned to the crisis corpus (Tiny). Nothing smaller exists offline as weights."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from distill.config import RUNS_DIR, TrainConfig
from distill.teacher import base_path, load_classifier

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def pruned_vocab(tokenizer, corpus: list[str], min_count: int = 2) -> list[int]:
    """Ids to keep: special tokens, every token the corpus uses ``min_count`` times, and every
    Latin one-character token (with and without ``##``) so that any Latin word still segments.

    WordPiece is greedy longest-match-first, so words made of kept pieces segment exactly as with
    the full vocabulary; other words fall back to shorter pieces instead of ``[UNK]``.
    """
    counts: Counter[int] = Counter()
    for ids in tokenizer(corpus, add_special_tokens=False)["input_ids"]:
        counts.update(ids)
    vocab = tokenizer.get_vocab()
    keep = {vocab[t] for t in SPECIAL_TOKENS}
    keep.update(i for i, n in counts.items() if n >= min_count)
    keep.update(
        i for tok, i in vocab.items() if len(t := tok.removeprefix("##")) == 1 and ord(t) < 0x250
    )
    return sorted(keep)


def prune_tokenizer(tokenizer, keep: list[int], out_dir: Path):
    """Write a fast BERT tokenizer whose vocabulary is ``keep`` (old ids, in order)."""
    from transformers import BertTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    inverse = {i: tok for tok, i in tokenizer.get_vocab().items()}
    tokens = [inverse[i] for i in keep]
    new_id = {tok: n for n, tok in enumerate(tokens)}
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["model"]["vocab"] = new_id
    spec["padding"] = None
    spec["truncation"] = None
    for added in spec["added_tokens"]:
        added["id"] = new_id[added["content"]]
    for special in spec["post_processor"]["special_tokens"].values():
        special["ids"] = [new_id[t] for t in special["tokens"]]
    (out_dir / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    (out_dir / "vocab.txt").write_text("\n".join(tokens) + "\n", "utf-8")
    pruned = BertTokenizerFast(
        vocab_file=str(out_dir / "vocab.txt"),
        tokenizer_file=str(out_dir / "tokenizer.json"),
        do_lower_case=True,
    )
    pruned.save_pretrained(out_dir)
    return pruned


def build_student(cfg: TrainConfig, corpus: list[str], out_dir: Path, runs: Path = RUNS_DIR):
    """Create the initial student (HF folder ``out_dir``) from MiniLM, or from an earlier run's
    trained model (``base`` = ``run:<name>`` under ``runs``) → (model, tokenizer)."""
    import torch
    from transformers import AutoTokenizer

    base = base_path(cfg.base, runs)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = load_classifier(base)
    backbone = getattr(model, model.base_model_prefix)
    if cfg.layers is not None:
        layers = backbone.encoder.layer
        backbone.encoder.layer = torch.nn.ModuleList([layers[i] for i in cfg.layers])
        model.config.num_hidden_layers = len(cfg.layers)
    if cfg.prune_vocab:
        keep = pruned_vocab(tokenizer, corpus, cfg.vocab_min_count)
        tokenizer = prune_tokenizer(tokenizer, keep, out_dir)
        old = backbone.embeddings.word_embeddings.weight.data
        new = torch.nn.Embedding(len(keep), old.shape[1], padding_idx=tokenizer.pad_token_id)
        new.weight.data.copy_(old[torch.tensor(keep)])
        backbone.embeddings.word_embeddings = new
        model.config.vocab_size = len(keep)
        model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return model, tokenizer
