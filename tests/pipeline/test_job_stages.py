"""Through the real broker: a retweet storm and posts in several languages, none with a ``lang``.

The job (shipped default model, shipped multilingual package) must route every post exactly
once, identify each post's language, classify Spanish and French posts with the multilingual
model, send a language no model reads to review with the reason, and give the 20 copies of one
plea one cluster (the first copy's id) with sizes 1…20.
"""

from __future__ import annotations

import json

import pytest
from job_helpers import read_topic

from models.multilingual import DEFAULT_MULTILINGUAL
from models.package import METADATA_FILE
from pipeline.cli import main
from pipeline.routing import ROUTES

PLEA = "URGENT: my grandmother in Ponce needs insulin. Roads are blocked, nobody came. Please RT"
EDITS = ("", " !!", " #PuertoRico", " please share", " 🙏")
OTHERS = {
    "en-offer": ("Free hot meals and drinking water at the Caguas community center today", "en"),
    "es-request": ("Necesitamos agua potable y medicinas en Utuado, por favor ayuda urgente", "es"),
    "es-support": ("Fuerza Puerto Rico, estamos rezando por todas las familias afectadas", "es"),
    "fr-request": ("Nous avons besoin d'eau potable et de couvertures à Ponce, aidez-nous", "fr"),
    "el-request": ("Χρειαζόμαστε νερό και φάρμακα στην Πάτρα, βοήθεια παρακαλώ", "el"),
}  # fmt: skip


def storm() -> list[dict]:
    """20 copies of one plea (retweet prefixes, links, small edits), then the other posts."""
    posts = [
        {
            "id": f"rt-{i:02d}",
            "text": (f"RT @neighbor{i}: " if i else "") + PLEA + EDITS[i % len(EDITS)]
            + (f" https://t.co/x{i}" if i % 3 else ""),
        }
        for i in range(20)
    ]  # fmt: skip
    posts += [{"id": post_id, "text": text} for post_id, (text, _) in OTHERS.items()]
    return posts


@pytest.mark.integration
def test_languages_and_a_retweet_storm_through_the_broker(kafka_settings) -> None:
    if not (DEFAULT_MULTILINGUAL / METADATA_FILE).is_file():
        pytest.skip("the multilingual package is not shipped in this checkout")
    from confluent_kafka import Producer

    from pipeline.kafka import ensure_topics

    topic, prefix = "stages.posts", "stages"
    ensure_topics(kafka_settings, [topic], partitions=1)  # one partition: the storm in order
    posts = storm()
    producer = Producer(kafka_settings.confluent_config())
    for post in posts:
        producer.produce(topic, key=post["id"].encode(), value=json.dumps(post).encode())
    assert producer.flush(30) == 0

    code = main(
        [
            "run",
            "--bootstrap-servers", kafka_settings.bootstrap_servers,
            "--input-topic", topic,
            "--output-prefix", prefix,
            "--group-id", "stages-job",
            "--bounded",
            "--runner=FnApiRunner",
        ]
    )  # fmt: skip
    assert code == 0

    routed = {}
    for route in ROUTES:
        for record in read_topic(kafka_settings, f"{prefix}.{route}"):
            value = json.loads(record.value)
            assert value["id"] not in routed, f"{value['id']} routed twice"
            routed[value["id"]] = (route, value)
    assert set(routed) == {p["id"] for p in posts}, "every post is routed, none dropped"
    assert not any(route == "dlq" for route, _ in routed.values())

    for i in range(20):
        _, value = routed[f"rt-{i:02d}"]
        assert value["lang"] == "en" and value["language"]["source"] == "english_words"
        assert (value["cluster_id"], value["cluster_size"]) == ("rt-00", i + 1)
    for post_id, (_, lang) in OTHERS.items():
        route, value = routed[post_id]
        assert value["lang"] == lang, (post_id, value["lang"])
        assert (value["cluster_id"], value["cluster_size"]) == (post_id, 1)
        model = value["classification"]["model"]["name"]
        if lang in ("es", "fr"):
            assert model == "triage-multilingual"
            reason = value["classification"].get("review_reason")
            assert reason is None or not reason.startswith("unsupported_language")
        elif lang == "el":  # read by no model: review, never other
            assert route == "review"
            assert value["classification"]["review_reason"] == "unsupported_language:el"
        else:
            assert model != "triage-multilingual"
    assert routed["es-request"][0] in ("requests", "review")
