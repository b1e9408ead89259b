"""Data augmentation for distillation (TinyBERT-style word replacement).

A small student imitates its teacher only where it has seen the teacher's answers. TinyBERT
(Jiao et al., 2020) widens that region by labelling *perturbed* copies of the training texts with
the teacher: each word is replaced, with some probability, by a near neighbour. Here the
neighbours come from the teacher base's own word-embedding table (all-mpnet-base-v2, offline):
``typhoon → hurricane, cyclone``; ``donate → donation, donors``; ``shelter → refuge, housing``.
Only plain alphabetic content words that are one token of that vocabulary are replaced (not
stop words; a neighbour that is a form of the same word, ``flood → flooding``, is skipped);
hashtags, mentions, URLs, numbers and rare words stay as they are. The copies carry no hard
label: the student learns them from the teacher's soft targets alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

WORD = re.compile(r"[A-Za-z]{3,}")
TOKEN = re.compile(r"[a-z]{3,}")


def _same_word(a: str, b: str) -> bool:
    """Inflections and spellings of one word (``flood``/``flooded``) share their first 4 letters."""
    return a[:4] == b[:4]


def neighbour_table(
    vocab: list[str], embeddings: np.ndarray, k: int = 8, min_similarity: float = 0.4
) -> dict[str, list[str]]:
    """For every plain content-word token (``[a-z]{3,}``, not a stop word) the nearest other such
    words by cosine similarity of the embedding rows: of the ``k`` nearest, those ≥
    ``min_similarity`` that are not forms of the same word."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    keep = [
        i
        for i, token in enumerate(vocab)
        if TOKEN.fullmatch(token) and token not in ENGLISH_STOP_WORDS
    ]
    words = [vocab[i] for i in keep]
    matrix = embeddings[keep].astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
    table: dict[str, list[str]] = {}
    k = min(k, len(words) - 1)
    if k < 1:
        return table
    for start in range(0, len(words), 2048):
        sims = matrix[start : start + 2048] @ matrix.T
        for row, word_index in enumerate(range(start, min(start + 2048, len(words)))):
            sims[row, word_index] = -1.0
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        for row, candidates in enumerate(top):
            ranked = candidates[np.argsort(-sims[row, candidates])]
            word = words[start + row]
            near = [
                words[j]
                for j in ranked
                if sims[row, j] >= min_similarity and not _same_word(word, words[j])
            ]
            if near:
                table[word] = near
    return table


def teacher_neighbours(model_dir: Path, k: int = 8) -> dict[str, list[str]]:
    """``neighbour_table`` of a Hugging Face folder's input word embeddings (safetensors)."""
    from safetensors import safe_open
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    with safe_open(str(model_dir / "model.safetensors"), "np") as weights:
        name = next(key for key in weights.keys() if key.endswith("word_embeddings.weight"))
        embeddings = weights.get_tensor(name)
    return neighbour_table(vocab, embeddings[: len(vocab)], k)


def _match_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[0].isupper():
        return replacement.capitalize()
    return replacement


def replace_words(
    text: str, table: dict[str, list[str]], probability: float, rng: np.random.Generator
) -> str:
    """``text`` with each replaceable word swapped for a random neighbour with ``probability``.

    A word is replaceable when it is a whole alphabetic run (not inside a hashtag, mention or
    URL) and its lowercase form is in ``table``."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        start, end = match.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if before in "#@/._" or after in "/._" or before.isalnum() or after.isalnum():
            return word
        near = table.get(word.lower())
        if not near or rng.random() >= probability:
            return word
        return _match_case(near[int(rng.integers(len(near)))], word)

    return WORD.sub(swap, text)


def augment_texts(
    texts: list[str],
    table: dict[str, list[str]],
    n: int,
    probability: float = 0.3,
    seed: int = 13,
) -> list[str]:
    """Up to ``n`` new texts, each a word-replaced copy of a seeded pick of ``texts``; copies
    identical to an existing text (or to each other) are dropped."""
    rng = np.random.default_rng(seed)
    seen = set(texts)
    out: list[str] = []
    if not texts or n <= 0:
        return out
    for _ in range(3):  # a pick may yield no change (no replaceable word): try more picks
        for index in rng.permutation(len(texts)):
            if len(out) >= n:
                return out
            copy = replace_words(texts[int(index)], table, probability, rng)
            if copy not in seen:
                seen.add(copy)
                out.append(copy)
    return out
