"""Per-post stages of the routing step besides the English model: language, the multilingual
path, near-duplicate clusters.

- **Language** (:mod:`pipeline.language`): the post's own ``lang`` wins, else identified.
- **Languages the model cannot read**: the English model's package may list ``languages`` in
  ``triage.json`` (default ``en``). A post identified in another language is classified by the
  multilingual package (:mod:`models.multilingual`) when one is configured and reads it;
  otherwise it goes to ``review`` with ``review_reason`` ``unsupported_language:<lang>``, never
  to ``other``. ``und``
  (undetermined) posts stay with the English model.
- **Near-duplicates** (:mod:`pipeline.near_duplicates`): ``cluster_id``/``cluster_size``; a copy
  takes its cluster's language instead of being identified again.

Everything is loaded in the worker (``load``), once per process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from models.runtime import Prediction
from pipeline import metrics
from pipeline.contract import Post
from pipeline.language import (
    UNDETERMINED,
    LanguageGuess,
    clean_for_language_id,
    normalize_tag,
    shared_identifier,
)
from pipeline.near_duplicates import ClusterRef, DuplicateOptions, post_key, shared_index

DEFAULT_MODEL_LANGUAGES: tuple[str, ...] = ("en",)
UNSUPPORTED_LANGUAGE = "unsupported_language"  # review reason: + ":<lang>"


@dataclass(frozen=True)
class PostStageOptions:
    """Which stages run, and their settings (all on by default; the multilingual model is a
    package path, or None for none)."""

    language_id: bool = True
    model_languages: tuple[str, ...] = DEFAULT_MODEL_LANGUAGES
    multilingual_model: str | None = None
    duplicates: DuplicateOptions | None = field(default_factory=DuplicateOptions)


class PostStages:
    """The loaded stages of one worker process."""

    def __init__(self, options: PostStageOptions):
        self.options = options
        self._identifier = None
        self._index = None
        self._multilingual = None
        self._language_counters: dict[tuple[str, str], Any] = {}  # (lang, source) → counter

    def load(self) -> None:
        if self.options.language_id:
            self._identifier = shared_identifier()
        if self.options.duplicates is not None:
            self._index = shared_index(self.options.duplicates)
        if self.options.multilingual_model:
            from models.multilingual import shared_classifier

            self._multilingual = shared_classifier(self.options.multilingual_model)

    def annotate(
        self, post: Post, enrichment: Mapping[str, Any] | None = None
    ) -> tuple[ClusterRef | None, LanguageGuess]:
        """The post's near-duplicate cluster and language (the text is cleaned once for both)."""
        cleaned = None
        if self._index is not None or (self._identifier is not None and "lang" not in post.fields):
            cleaned = clean_for_language_id(post.text)
        cluster = self.cluster(post, enrichment, cleaned)
        return cluster, self.language(post, cluster, cleaned)

    def language(
        self, post: Post, cluster: ClusterRef | None = None, cleaned: str | None = None
    ) -> LanguageGuess:
        """The post's own tag, else its near-duplicate cluster's language, else identified."""
        own = normalize_tag(post.fields.get("lang"))
        if own is not None:
            guess = LanguageGuess(own, "post", 1.0)
        elif self._identifier is None:
            guess = LanguageGuess(UNDETERMINED, "post", 0.0)
        else:
            # Copies of a post share its language: identified once per cluster, kept with the
            # cluster in the process's near-duplicate index (so it expires with it).
            index = self._index if cluster is not None else None
            known = index.note(cluster.cluster_id) if index is not None else None
            guess = known or self._identifier.detect(post.text, cleaned)
            if index is not None and known is None:
                index.set_note(cluster.cluster_id, guess)
        counter = self._language_counters.get((guess.lang, guess.source))
        if counter is None:
            counter = metrics.POSTS_BY_LANGUAGE.labels(guess.lang, guess.source)
            self._language_counters[(guess.lang, guess.source)] = counter
        counter.inc()
        return guess

    def cluster(
        self,
        post: Post,
        enrichment: Mapping[str, Any] | None = None,
        cleaned: str | None = None,
    ) -> ClusterRef | None:
        """The post's near-duplicate cluster (None when the stage is off)."""
        if self._index is None:
            return None
        key = post_key(post.text, cleaned)
        return self._index.observe(post.id, post.text, post.timestamp_ms, enrichment, key)

    def reads(self, lang: str) -> bool:
        """True when the English model takes the post (its language, or undetermined)."""
        return lang == UNDETERMINED or lang in self.options.model_languages

    def reclassify(self, post: Post, lang: str, english: Prediction) -> Prediction:
        """A post the English model cannot read: the multilingual model's prediction (with its
        own review decision), or the English one sent to review as ``unsupported_language``."""
        model = self._multilingual
        if model is not None and model.supports(lang):
            return model.predict([post.text])[0]
        return replace(english, review_reason=f"{UNSUPPORTED_LANGUAGE}:{lang}")
