"""The routing step's language stages with the shipped multilingual package (real USE weights)."""

from __future__ import annotations

import pytest

from models.errors import ModelPackageError
from models.multilingual import DEFAULT_MULTILINGUAL, resolve_multilingual
from models.package import METADATA_FILE
from models.runtime import Prediction
from pipeline.contract import Post
from pipeline.post_stages import PostStageOptions, PostStages

ENGLISH = Prediction(
    "other", {"request": 0.1, "offer": 0.1, "emotional_support": 0.1, "other": 0.7}, "tiny@1"
)

needs_package = pytest.mark.skipif(
    not (DEFAULT_MULTILINGUAL / METADATA_FILE).is_file(), reason="multilingual package not shipped"
)


def _post(text: str, **fields: str) -> Post:
    return Post({"id": "p1", "text": text, **fields}, "posts", 0, 7, 1_000, "t")


@pytest.fixture(scope="module")
def stages() -> PostStages:
    loaded = PostStages(PostStageOptions(multilingual_model=str(DEFAULT_MULTILINGUAL)))
    loaded.load()
    return loaded


@needs_package
def test_spanish_is_read_by_the_multilingual_model(stages: PostStages) -> None:
    post = _post("Necesitamos agua potable y medicinas en Utuado, por favor ayuda urgente")
    lang = stages.language(post).lang
    assert lang == "es" and not stages.reads(lang)
    verdict = stages.reclassify(post, lang, ENGLISH)
    assert verdict.model.startswith("triage-multilingual@")
    assert verdict.label in ("request", "offer")
    assert verdict.review_reason in (None, "low_confidence") or verdict.review_reason.startswith(
        "possible_"
    )  # the multilingual package's own review decision


@needs_package
def test_a_language_no_model_reads_goes_to_review_with_the_reason(stages: PostStages) -> None:
    post = _post("Χρειαζόμαστε νερό και φάρμακα στην Πάτρα, βοήθεια παρακαλώ")
    verdict = stages.reclassify(post, stages.language(post).lang, ENGLISH)
    assert verdict.review_reason == "unsupported_language:el"
    assert (verdict.label, verdict.model) == ("other", "tiny@1")  # the English verdict, reviewed


def test_without_a_multilingual_model_every_other_language_is_reviewed() -> None:
    bare = PostStages(PostStageOptions(language_id=False, duplicates=None))
    bare.load()
    post = _post("Nous avons besoin d'eau potable à Ponce", lang="fr-CA")
    guess = bare.language(post)
    assert (guess.lang, guess.source) == ("fr", "post")
    assert bare.cluster(post) is None
    assert bare.reclassify(post, "fr", ENGLISH).review_reason == "unsupported_language:fr"
    assert bare.reads("und") and bare.reads("en")


def test_multilingual_model_choice() -> None:
    assert resolve_multilingual("none") is None
    with pytest.raises(ModelPackageError, match="not a multilingual package"):
        resolve_multilingual("/nonexistent/package")
