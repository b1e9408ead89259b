"""Near-duplicate clusters: retweets and light edits join the first post's cluster; bounded."""

from __future__ import annotations

from pipeline import metrics
from pipeline.near_duplicates import DuplicateOptions, NearDuplicateIndex, post_key

PLEA = "URGENT: my grandmother in Ponce needs insulin. Roads are blocked, nobody came. Please RT"
OTHER = "Free hot meals and drinking water at the Caguas community center until 6pm today"
HOUR_MS = 3_600_000


def test_retweets_mentions_links_and_case_do_not_change_the_key() -> None:
    assert post_key(f"RT @maria_pr: {PLEA.upper()} https://t.co/AbC") == post_key(PLEA)


def test_copies_join_the_first_posts_cluster_and_count_up() -> None:
    index = NearDuplicateIndex()
    first = index.observe("a", PLEA, 0)
    assert (first.cluster_id, first.cluster_size) == ("a", 1)
    refs = [
        index.observe("b", f"RT @maria_pr: {PLEA} https://t.co/x", 1_000),
        index.observe("c", PLEA.replace("Please RT", "please share this!!"), 2_000),
        index.observe("d", OTHER, 3_000),
    ]
    assert [(r.cluster_id, r.cluster_size) for r in refs] == [("a", 2), ("a", 3), ("d", 1)]
    assert len(index) == 2


def test_a_redelivered_post_is_not_counted_twice() -> None:
    index = NearDuplicateIndex()
    index.observe("a", PLEA, 0)
    index.observe("b", PLEA, 1)
    again = index.observe("b", PLEA, 2)
    assert (again.cluster_id, again.cluster_size) == ("a", 2)


def test_different_posts_about_the_same_place_stay_apart() -> None:
    index = NearDuplicateIndex()
    index.observe("a", PLEA, 0)
    ref = index.observe("b", "My grandmother in Ponce is safe, thank you all for the prayers", 1)
    assert ref.cluster_id == "b"


def test_clusters_expire_after_the_window() -> None:
    index = NearDuplicateIndex(DuplicateOptions(window_s=3600))
    before = _evictions("expired")
    index.observe("a", PLEA, 0)
    index.observe("x", OTHER, 2 * HOUR_MS)  # time moves on: the plea's cluster expires
    assert index.observe("b", PLEA, 2 * HOUR_MS + 1).cluster_id == "b"
    assert _evictions("expired") == before + 1


def test_the_size_cap_evicts_the_least_recently_seen_cluster() -> None:
    index = NearDuplicateIndex(DuplicateOptions(max_clusters=2))
    index.observe("a", PLEA, 0)
    index.observe("b", OTHER, 1)
    index.observe("a2", PLEA, 2)  # the plea is seen again: the offer is now the oldest
    index.observe("c", "Praying for everyone in Utuado tonight, stay strong and safe", 3)
    assert len(index) == 2
    assert index.observe("b2", OTHER, 4).cluster_id == "b2"  # evicted: a new cluster
    assert metrics.DUPLICATE_CLUSTERS._value.get() == 2  # noqa: SLF001 - gauge's own value


def _evictions(reason: str) -> float:
    return metrics.DUPLICATE_EVICTIONS.labels(reason=reason)._value.get()  # noqa: SLF001


def test_similar_posts_about_another_town_or_need_stay_apart() -> None:
    index = NearDuplicateIndex()
    index.observe("a", "URGENT: my grandmother in Ponce needs insulin, roads blocked. Please RT", 0)
    town = index.observe(
        "b", "URGENT: my grandmother in Caguas needs insulin, roads blocked. Please RT", 1
    )
    need = index.observe(
        "c", "URGENT: my grandmother in Ponce needs diapers, roads blocked. Please RT", 2
    )
    assert (town.cluster_id, need.cluster_id) == ("b", "c")


def test_geotagged_posts_about_another_town_stay_apart() -> None:
    """With a ``geo`` point the enrichment's location is not the text's place: the anchors
    come from the text, so the geotag does not make any town compatible."""
    from pipeline.enrich import enrich

    index = NearDuplicateIndex()
    posts = {
        "a": "URGENT: my grandmother in Ponce needs insulin, roads blocked. Please RT",
        "b": "URGENT: my grandmother in Caguas needs insulin, roads blocked. Please RT",
        "c": "RT @x: URGENT: my grandmother in Ponce needs insulin, roads blocked. Please RT!",
    }
    refs = {}
    for i, (post_id, text) in enumerate(posts.items()):
        fields = {"id": post_id, "text": text, "geo": {"lat": 18.2, "lon": -66.0}}
        enrichment = enrich(fields)
        assert enrichment["location"]["method"] != "gazetteer"
        refs[post_id] = index.observe(post_id, text, i, enrichment)
    assert refs["b"].cluster_id == "b" and refs["c"].cluster_id == "a"


def test_sketches_estimate_jaccard_similarity_without_bias() -> None:
    import random

    import numpy as np

    from pipeline.near_duplicates import shingles, similarity, sketch

    rng = random.Random(0)
    errors = []
    for _ in range(200):
        words = [f"w{rng.randrange(10**6)}" for _ in range(60)]
        keep = rng.randrange(10, 60)
        other = words[:keep] + [f"z{rng.randrange(10**6)}" for _ in range(60 - keep)]
        a, b = set(shingles(" ".join(words))), set(shingles(" ".join(other)))
        estimate = similarity(sketch(" ".join(words)), sketch(" ".join(other)))
        errors.append(estimate - len(a & b) / len(a | b))
    assert abs(float(np.mean(errors))) < 0.02 and float(np.std(errors)) < 0.08
