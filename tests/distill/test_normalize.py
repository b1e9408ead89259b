"""Tweet normalisation and the dedup key."""

from __future__ import annotations

import pytest

from distill.normalize import dedup_key, normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Food &amp; water needed", "Food & water needed"),
        ("double &amp;amp; escaped", "double & escaped"),
        ("see http://t.co/AbC123 and https://x.org/a?b=1", "see http and http"),
        ("visit www.redcross.org now", "visit http now"),
        ("@FEMA please help @user_2", "@user please help @user"),
        ("mail me at a@b.com", "mail me at a@b.com"),
        ("  many \n\t spaces  ", "many spaces"),
        ("‰ÛÏWe need help‰Û\x9d", '"We need help"'),
        ("It‰Ûªs bad", "It's bad"),
        ("cafÃ© open", "café open"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_dedup_key_collapses_retweets_case_urls_and_punctuation():
    original = normalize_text("Need WATER in Ponce!! http://t.co/x1 #Maria")
    retweet = normalize_text("RT @someone: need water in Ponce http://t.co/other #maria")
    nested = normalize_text("RT @a: RT @b: Need water in Ponce... #Maria")
    assert (
        dedup_key(original)
        == dedup_key(retweet)
        == dedup_key(nested)
        == "need water in ponce maria"
    )


def test_dedup_key_keeps_different_posts_apart():
    assert dedup_key(normalize_text("need water")) != dedup_key(normalize_text("have water"))
