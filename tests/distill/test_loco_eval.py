"""Leave-one-crisis-out evaluation end to end on the tiny random package: folds scored, a
trained-on crisis refused, outputs written, only the LOCO section of RESULTS.md rewritten."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from distill.folds import FOLD_COLUMNS, write_folds
from distill.loco_eval import LocoRun, evaluate_folds
from distill.loco_report import SECTION, publish_loco
from models.errors import TriageError

TEXTS = [
    "We need water and food at the shelter on 5th street, please send help",
    "Volunteers with boats available to evacuate families, DM us",
    "Praying for everyone affected by the hurricane tonight",
    "Bridge on highway 2 collapsed, roads closed until further notice",
    "Trapped on the roof with two kids, need rescue now",
    "Donating blankets and canned goods at the church this Saturday",
]
GOLD = ["request", "offer", "emotional_support", "other", "request", "offer"]


def _fold(event: str) -> pl.DataFrame:
    n = len(TEXTS)
    return pl.DataFrame(
        {
            "text": TEXTS,
            "gold": GOLD,
            "task": ["4way"] * n,
            "source": ["humaid"] * n,
            "event": [event] * n,
            "event_id": [event] * n,
            "label": GOLD,
            "source_split": ["train"] * n,
            "raw_text": TEXTS,
            "dup_key": [f"{event} {i}" for i in range(n)],
        }
    ).select(FOLD_COLUMNS)


@pytest.fixture
def scoped_model(tiny_model, tmp_path):
    """The tiny package, recorded as trained on ``seen_crisis`` with two crises held out."""
    package = tmp_path / "pkg"
    shutil.copytree(tiny_model, package)
    meta = json.loads((package / "triage.json").read_text())
    meta["thresholds"] = {"request": 0.2, "offer": 0.3, "emotional_support": 0.3, "other": 0.3}
    meta["data"] = {"events": ["seen_crisis"], "loco_events": ["crisis_a", "crisis_b"]}
    (package / "triage.json").write_text(json.dumps(meta))
    return package


def _run(tmp_path, explicit=False) -> LocoRun:
    folds = {name: _fold(name) for name in ("crisis_a", "crisis_b", "seen_crisis")}
    info = write_folds(folds, tmp_path / "prepared")
    return LocoRun(folds, info, tmp_path / "out", explicit=explicit, progress=False, log=print)


def test_folds_are_scored_and_a_seen_crisis_is_left_out(scoped_model, tmp_path, capsys):
    results = evaluate_folds([scoped_model], _run(tmp_path), command="test")
    (model,) = results["models"]
    assert list(model["folds"]) == ["crisis_a", "crisis_b"]
    assert "was trained on seen_crisis" in model["refused"]["seen_crisis"]
    assert "fold seen_crisis left out" in capsys.readouterr().out
    assert model["macro"]["folds"] == 2 and model["thresholds"]["request"] == 0.2
    request = model["folds"]["crisis_a"]["labels"]["request"]
    assert request["support"] == 2 and 0.0 <= request["reach"] <= 1.0
    out = tmp_path / "out"
    saved = json.loads((out / "loco.json").read_text())
    assert saved["models"][0]["macro"]["folds"] == 2
    report = (out / "loco.md").read_text()
    assert "| crisis_a (humaid) | 6 | 2 | 2 |" in report and "seen_crisis" in report
    assert (out / "pr_request.png").stat().st_size > 1000
    assert (out / "pr_offer.png").stat().st_size > 1000


def test_a_named_fold_the_model_trained_on_is_an_error(scoped_model, tmp_path):
    with pytest.raises(TriageError, match="trained on seen_crisis"):
        evaluate_folds([scoped_model], _run(tmp_path, explicit=True))


def test_publish_rewrites_only_the_loco_section(scoped_model, tmp_path):
    run = _run(tmp_path)
    results = evaluate_folds([scoped_model], run)
    results_md = tmp_path / "RESULTS.md"
    old = "# Benchmark results\n\n## Models: accuracy and speed\n\n| old | table |\n"
    results_md.write_text(old)
    publish_loco(results, run.out_dir, results_md)
    publish_loco(results, run.out_dir, results_md)  # idempotent
    text = results_md.read_text()
    assert text.startswith(old) and text.count(SECTION) == 1
    assert "![request precision–recall](loco_pr_request.png)" in text
    assert (tmp_path / "loco_pr_offer.png").is_file()
