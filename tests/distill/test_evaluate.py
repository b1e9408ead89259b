"""Evaluation on the tiny random package: files written, cache used, cards and RESULTS rewritten."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from distill.card_sections import rewrite_section
from distill.eval_report import SECTION, publish, replace_markdown_section
from distill.evaluate import evaluate, source_label_tables
from models.errors import TriageError
from models.package import ModelPackage

TEXTS = [
    "We need water and food at the shelter on 5th street, please send help",
    "Volunteers with boats available to evacuate families, DM us",
    "Praying for everyone affected by the hurricane tonight",
    "Bridge on highway 2 collapsed, roads closed until further notice",
    "Anyone have a phone charger? my battery is dying lol",
    "Donating blankets and canned goods at the church this Saturday",
]


def synthetic_sets() -> dict[str, pl.DataFrame]:
    four = ["request", "offer", "emotional_support", "other", "other", "offer"]
    actionable = ["actionable", "actionable", "not", "not", "not", "actionable"]
    informative = ["informative"] * 4 + ["not_informative", "informative"]
    return {
        name: pl.DataFrame({"text": TEXTS, "gold": gold, "task": [task] * len(TEXTS)})
        for name, task, gold in [
            ("synthetic_4way", "4way", four),
            ("synthetic_actionable", "actionable", actionable),
            ("synthetic_informative", "informative", informative),
        ]
    }


def test_evaluate_writes_json_markdown_and_pngs(tiny_model, tmp_path):
    results = evaluate([tiny_model], synthetic_sets(), tmp_path, progress=False)
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["models"][0]["name"] == "tiny-random@0.0.1 (ONNX fp32)"
    assert set(saved["models"][0]["sets"]) == set(synthetic_sets())
    for scores in saved["models"][0]["sets"].values():
        assert 0.0 <= scores["macro_f1"] <= 1.0
        assert sum(map(sum, scores["confusion"])) == len(TEXTS)
    assert results["models"][0]["mean_macro_f1"] == pytest.approx(
        np.mean([s["macro_f1"] for s in saved["models"][0]["sets"].values()])
    )
    table = (tmp_path / "eval.md").read_text()
    assert "| tiny-random@0.0.1 (ONNX fp32) |" in table and "synthetic_actionable" in table
    pngs = sorted(p.name for p in (tmp_path / "confusion").glob("*.png"))
    assert len(pngs) == 3 and all((tmp_path / "confusion" / p).stat().st_size > 1000 for p in pngs)


def test_students_are_compared_with_the_teacher(tiny_model, tmp_path):
    results = evaluate([tiny_model], synthetic_sets(), tmp_path, teacher=tiny_model, progress=False)
    teacher, student = results["models"]
    assert teacher["role"] == "teacher" and "vs_teacher" not in teacher["sets"]["synthetic_4way"]
    cmp = student["sets"]["synthetic_4way"]["vs_teacher"]
    assert cmp == {"delta": 0.0, "ci95_low": 0.0, "ci95_high": 0.0}  # same model
    assert "+0.0 [+0.0, +0.0]" in (tmp_path / "eval.md").read_text()


def test_source_labels_are_scored_when_the_test_set_has_them(tiny_model, tmp_path):
    sets = synthetic_sets()
    sets["synthetic_4way"] = sets["synthetic_4way"].with_columns(
        label=pl.Series(["Needs"] * 3 + ["Other"] * 3)
    )
    results = evaluate([tiny_model], sets, tmp_path, progress=False)
    scored = results["models"][0]["sets"]
    groups = scored["synthetic_4way"]["by_source_label"]
    assert {k: v["n"] for k, v in groups.items()} == {"Needs": 3, "Other": 3}
    assert "by_source_label" not in scored["synthetic_actionable"]
    right = sum(g["accuracy"] * g["n"] for g in groups.values()) / len(TEXTS)
    assert right == pytest.approx(scored["synthetic_4way"]["accuracy"])
    table = source_label_tables(results, min_posts=3)
    assert "**synthetic_4way**" in table and "| Needs | request | 3 |" in table
    assert source_label_tables(results, min_posts=4).count("| Needs") == 0


def test_rerun_reads_cached_probabilities(tiny_model, tmp_path):
    sets = {"synthetic_4way": synthetic_sets()["synthetic_4way"]}
    first = evaluate([tiny_model], sets, tmp_path, progress=False)
    (cached,) = (tmp_path / "cache").rglob("*.npy")
    # Overwrite the cache with "everything is a request": the rerun must score those.
    forced = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32), (len(TEXTS), 1))
    np.save(cached, forced)
    rerun = evaluate([tiny_model], sets, tmp_path, progress=False)
    per = rerun["models"][0]["sets"]["synthetic_4way"]["per_label"]
    assert per["request"]["recall"] == 1.0 and per["offer"]["recall"] == 0.0
    fresh = evaluate([tiny_model], sets, tmp_path / "nocache", progress=False, use_cache=False)
    assert fresh["models"][0]["sets"] == first["models"][0]["sets"]
    assert not (tmp_path / "nocache" / "cache").exists()


def test_test_set_without_task_column_is_refused(tiny_model, tmp_path):
    bad = {"x": pl.DataFrame({"text": ["a"], "gold": ["request"]})}
    with pytest.raises(TriageError, match="lacks columns"):
        evaluate([tiny_model], bad, tmp_path, progress=False)


def test_rewrite_section_is_idempotent():
    card = "# Card\n\n## Evaluation\n<!-- EVAL -->\n\n## Speed\n<!-- SPEED -->\n"
    once = rewrite_section(card, "EVAL", "| a | b |")
    twice = rewrite_section(once, "EVAL", "| c | d |")
    assert "| a | b |" not in twice and twice.count("| c | d |") == 1
    assert twice.count("<!-- /EVAL -->") == 1 and "<!-- SPEED -->" in twice
    with pytest.raises(ValueError):
        rewrite_section("# no markers", "EVAL", "x")


def test_card_filled_and_package_still_verifies(tiny_model, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(tiny_model, package)
    (package / "README.md").write_text("# tiny\n<!-- EVAL -->\n<!-- SPEED -->\n")
    results = evaluate([package], synthetic_sets(), tmp_path / "eval", progress=False)
    sha = results["models"][0]["sha256"]
    speed = {
        "created_at": "now",
        "posts": 6,
        "mean_chars": 60.0,
        "mean_tokens": None,
        "threads": 2,
        "repeats": 1,
        "batch_sizes": [32],
        "plot_batch_size": 32,
        "command": "triage distill benchmark",
        "machine": {"cpu": "test cpu", "cores": 2},
        "rows": [
            {
                "path": str(package),
                "kind": "onnx",
                "role": "student",
                "name": "tiny",
                "sha256": sha,
                "model_bytes": 2_000_000,
                "posts_per_s": {"32": 500.0},
                "x_teacher": {},
                "x_pipeline": {},
                "peak_rss_mb": 120.0,
            }
        ],
    }
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text(
        "# Results\n\n## Pipeline end to end\n\nkeep me\n\n" + SECTION + "\n\nold\n"
    )
    done = publish(speed, results, results_md, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 1000
    card = (package / "README.md").read_text()
    assert "synthetic_4way" in card and "500.0" in card
    ModelPackage.load(package)  # checksums re-sealed after the card changed
    text = results_md.read_text()
    assert "keep me" in text and "old" not in text and "![accuracy vs speed](plot.png)" in text
    assert done["cards"] == [str(package / "README.md")]


def test_replace_markdown_section_keeps_following_sections(tmp_path):
    path = tmp_path / "R.md"
    path.write_text(f"# R\n\n{SECTION}\n\nold\n\n## Other\n\nkept\n")
    replace_markdown_section(path, SECTION, "new")
    replace_markdown_section(path, SECTION, "newer")
    text = path.read_text()
    assert "newer" in text and "old" not in text and "## Other\n\nkept" in text
    assert text.count(SECTION) == 1


def _cli(argv: list[str]) -> int:
    import argparse

    from distill.eval_cli import register

    parser = argparse.ArgumentParser(prog="triage distill")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_evaluate_command_on_prepared_folder(tiny_model, tmp_path, capsys):
    from distill.splits import TASKS

    prepared = tmp_path / "prepared"
    (prepared / "test").mkdir(parents=True)
    (prepared / "manifest.json").write_text("{}")
    sets = synthetic_sets()
    by_task = {frame["task"][0]: frame for frame in sets.values()}
    for name, task in TASKS.items():
        by_task[task].write_parquet(prepared / "test" / f"{name}.parquet")
    out = tmp_path / "out"
    argv = ["evaluate", "--models", str(tiny_model), "--prepared", str(prepared)]
    assert _cli([*argv, "--out", str(out), "--limit", "4", "--no-publish", "--no-teacher"]) == 0
    saved = json.loads((out / "eval.json").read_text())
    assert set(saved["test_sets"]) == set(TASKS)
    assert all(info["n"] == 4 for info in saved["test_sets"].values())
    assert "| tiny-random@0.0.1 (ONNX fp32) |" in capsys.readouterr().out


def test_card_without_marker_is_left_alone(tiny_model, tmp_path):
    from distill.card_sections import fill_package_card

    package = tmp_path / "pkg"
    shutil.copytree(tiny_model, package)
    (package / "README.md").write_text("# tiny\n\n<!-- EVAL -->\n")
    meta_before = (package / "triage.json").read_text()
    assert fill_package_card(package, {"SPEED": "fast"}) == []
    assert (package / "triage.json").read_text() == meta_before
    assert fill_package_card(package, {"EVAL": "good", "SPEED": "fast"}) == ["EVAL"]
    assert "good\n<!-- /EVAL -->" in (package / "README.md").read_text()
    ModelPackage.load(package)
