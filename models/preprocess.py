"""Model-facing text normalisation, shared by training (distill) and serving (the runtime).

``normalize_text`` is what models see: HTML entities decoded, mojibake repaired (ftfy plus a
small table for the Mac-Roman mangling found in the CrisisNLP and Kaggle files), URLs replaced
by ``http`` (a token every tokenizer knows), user mentions by ``@user``, whitespace collapsed.
A model package names its preprocessing in ``triage.json`` (``"preprocessing"``); the runtime
applies the same function before tokenizing, so training and serving never drift apart.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import ftfy

URL_TOKEN = "http"
USER_TOKEN = "@user"

# Mac-Roman / cp1252 mangling of UTF-8 punctuation that ftfy cannot undo (seen in the data).
MOJIBAKE: dict[str, str] = {
    "‰ÛÏ": '"',
    "‰Û\x9d": '"',
    "‰Û�": '"',
    "‰Ûª": "'",
    "‰Û÷": "'",
    "‰Ûò": "'",
    "‰ÛÒ": "-",
    "‰ÛÓ": "-",
    "‰Û¢": "-",
    "‰Û_": "...",
    "‰Ûó": "",
    "‰Û": "",
    "åÊ": " ",
    "Ì©": "é",
    "ÌÁ": "á",
    "Ì±": "ñ",
    "Ì¼": "ü",
    "Ì¤": "ä",
    "Ì¢": "â",
    "Ì_": "ó",
    "ÌÏ": "í",
    "Ì¨": "è",
    "�": "",
}
_MOJIBAKE_RE = re.compile("|".join(re.escape(k) for k in sorted(MOJIBAKE, key=len, reverse=True)))
_URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bt\.co/\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,30}")
_SPACE_RE = re.compile(r"\s+")


def fix_encoding(text: str) -> str:
    """Decode HTML entities (also double-escaped ones) and repair mojibake."""
    for _ in range(2):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if text.isascii():  # nothing for ftfy to repair (and 10x faster on plain tweets)
        return text
    text = ftfy.fix_text(text, unescape_html=False, normalization="NFC")
    return _MOJIBAKE_RE.sub(lambda m: MOJIBAKE[m.group(0)], text)


def normalize_text(text: str | None) -> str:
    """The model-facing form of a post (see module docstring)."""
    if not text:
        return ""
    text = fix_encoding(text)
    text = _URL_RE.sub(URL_TOKEN, text)
    text = _MENTION_RE.sub(USER_TOKEN, text)
    return _SPACE_RE.sub(" ", text).strip()


def identity(text: str | None) -> str:
    return text or ""


# Names a package may give in triage.json "preprocessing" → the function the runtime applies.
PREPROCESSORS: dict[str, Callable[[str | None], str]] = {
    "none": identity,
    "tweet-v1": normalize_text,
    "distill.normalize.normalize_text": normalize_text,  # name used by the first packages
}
