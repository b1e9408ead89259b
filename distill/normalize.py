"""Tweet normalisation for training and dedup.

``normalize_text`` (the model-facing form) lives in :mod:`models.preprocess` so that the serving
runtime applies exactly the same function; ``dedup_key`` is stricter and only used to find
duplicates: retweet prefixes removed, lower-cased, punctuation and the URL/mention tokens dropped.
"""

from __future__ import annotations

import re

from models.preprocess import MOJIBAKE, URL_TOKEN, USER_TOKEN, fix_encoding, normalize_text

__all__ = ["MOJIBAKE", "URL_TOKEN", "USER_TOKEN", "dedup_key", "fix_encoding", "normalize_text"]

_SPACE_RE = re.compile(r"\s+")
_RT_RE = re.compile(r"^(?:\s*(?:rt|mt)\s*@user\s*:?\s*)+", re.IGNORECASE)
_NON_WORD_RE = re.compile(r"[^\w]+", re.UNICODE)


def dedup_key(normalized: str) -> str:
    """Key under which retweets and trivially edited copies of a post collide."""
    text = _RT_RE.sub("", normalized)
    text = text.replace(USER_TOKEN, " ").replace(URL_TOKEN, " ").lower()
    text = _NON_WORD_RE.sub(" ", text)
    text = re.sub(r"\b(?:rt|via)\b", " ", text)
    return _SPACE_RE.sub(" ", text).replace("_", " ").strip()
