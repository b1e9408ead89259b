"""Leave-one-crisis-out evaluation end to end on the tiny random package: folds scored, a
trained-on crisis refused, outputs written, only the LOCO section of RESULTS.md rewritten; a
review floor chosen on dev crises only, reported and written into a package copy."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from distill.floor_package import write_floor_package
from distill.folds import DEV_DIR, FOLD_COLUMNS, write_folds
from distill.loco_eval import LocoRun, evaluate_folds
from distill.loco_report import SECTION, publish_loco
from models.errors import TriageError
from models.package import LABELS, ModelPackage, write_metadata
from models.repository import bumped

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
    meta["data"] = {
        "events": ["seen_crisis"],
        "loco_events": ["crisis_a", "crisis_b"],
        "dev_events": ["dev_x", "dev_y"],
    }
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


def _floor_run(tmp_path) -> LocoRun:
    """Folds as in :func:`_run`, plus dev crises: two held out, one the model trained on."""
    run = _run(tmp_path)
    run.dev_crises = {name: _fold(name) for name in ("dev_x", "dev_y", "seen_crisis")}
    run.dev_info = write_folds(dict(run.dev_crises), tmp_path / "prepared", DEV_DIR)
    run.review_floor_reach = 0.9
    return run


def _fake_probabilities(fold_seed: int):
    """``predict_cached`` stand-in: dev-crisis posts always score the same, fold posts by seed."""

    def predict(predictor, set_name, texts, *args, **kwargs):
        seed = 0 if set_name.startswith("loco-dev-") else fold_seed
        probs = np.random.default_rng(seed).dirichlet(np.ones(4), size=len(texts))
        probs[:, 0] = np.minimum(probs[:, 0], 0.15)  # no request above its threshold
        return probs / probs.sum(axis=1, keepdims=True)

    return predict


def test_the_floor_is_chosen_on_dev_crises_only(scoped_model, tmp_path, monkeypatch):
    chosen = []
    for fold_seed in (1, 2):
        monkeypatch.setattr("distill.loco_eval.predict_cached", _fake_probabilities(fold_seed))
        run = _floor_run(tmp_path / str(fold_seed))
        (model,) = evaluate_folds([scoped_model], run)["models"]
        chosen.append(model["chosen_floor"])
    first, second = chosen
    assert first["floor"] == second["floor"] and 0.0 < first["floor"] < 0.2
    assert first["dev_crises"] == ["dev_x", "dev_y"] and "seen_crisis" in first["refused"]
    assert first["posts"] == 12 and first["requests"] == 4 and first["dev_reach"] >= 0.9
    assert first["review_floors"] == {"request": first["floor"]}
    assert first["folds"] != second["folds"]  # the folds did change
    request = first["folds"]["crisis_a"]["labels"]["request"]
    assert request["reach"] >= 0.0 and first["macro"]["folds"] == 2


def test_both_operating_points_are_reported(scoped_model, tmp_path, monkeypatch):
    monkeypatch.setattr("distill.loco_eval.predict_cached", _fake_probabilities(1))
    run = _floor_run(tmp_path)
    results = evaluate_folds([scoped_model], run)
    choice = results["models"][0]["chosen_floor"]
    report = (run.out_dir / "loco.md").read_text()
    name = results["models"][0]["name"]
    assert f"| {name} | shipped: request ≥ 0.20 | 2 |" in report
    floor_row = f"| {name} | request ≥ 0.20; floor {choice['floor']:.4f} (review if"
    assert floor_row in report and "chosen on 12 dev-crisis posts (4 requests; there" in report
    assert f"per crisis, review floor {choice['floor']:.4f} chosen on dev crises:" in report
    assert "- dev_x (humaid): 6 posts, 2 requests" in report
    assert "dev crisis seen_crisis (floor not chosen on it)" in report
    saved = json.loads((run.out_dir / "loco.json").read_text())
    assert saved["review_floor_reach"] == 0.9 and set(saved["dev_crises"]) == set(run.dev_info)
    assert saved["models"][0]["chosen_floor"]["macro"]["folds"] == 2
    results_md = tmp_path / "RESULTS.md"
    publish_loco(results, run.out_dir, results_md)
    assert floor_row in results_md.read_text()


def test_without_a_reach_the_report_is_unchanged(scoped_model, tmp_path):
    results = evaluate_folds([scoped_model], _run(tmp_path))
    assert "chosen_floor" not in results["models"][0] and results["dev_crises"] == {}
    report = (tmp_path / "out" / "loco.md").read_text()
    assert "shipped:" not in report and "dev crises" not in report


def _choice(floor: float) -> dict:
    """A floor choice as ``choose_floor`` returns it (one dev crisis, 6 posts, 2 requests)."""
    return {
        "reach_target": 0.9,
        "floor": floor,
        "dev_crises": ["dev_x"],
        "posts": 6,
        "requests": 2,
        "dev_reach": 1.0,
        "dev_review_share": 0.5,
        "review_floors": {"request": floor},
    }


def test_floor_package_carries_the_floor(scoped_model, tmp_path):
    choice = {
        **_choice(0.066),
        "macro": {"folds": 2, "review_share": 0.31, "labels": {"request": {"reach": 0.93}}},
    }
    base = ModelPackage.load(scoped_model)
    card_text = f"# {base.name} {base.version}\n\nText.\n\n## Limitations\n\nSome.\n"
    (scoped_model / "README.md").write_text(card_text)
    meta = json.loads((scoped_model / "triage.json").read_text())
    meta.pop("files")
    write_metadata(scoped_model, meta)  # the card is a checksummed file
    written = write_floor_package(scoped_model, choice, tmp_path / "floored")
    package = ModelPackage.load(written)  # checksums verified (the card included)
    assert package.review_floors == {"request": 0.066} and package.thresholds["request"] == 0.2
    assert package.extra["review_floor_choice"]["posts"] == 6
    assert package.version == bumped(base.version, "minor") != base.version
    card = (written / "README.md").read_text()
    assert card.startswith(f"# {base.name} {package.version}\n")
    section = card[card.index("## Operating point for responders") : card.index("## Limitations")]
    assert "request 0.0660" in section and "6 posts of 1 crises (dev_x), 2 requests" in section
    assert "macro over 2 crises no model saw): 0.93 of the requests" in section
    assert f"Weights: those of {base.model_id}, unchanged" in section
    again = write_floor_package(scoped_model, choice, tmp_path / "floored")  # idempotent
    assert (again / "README.md").read_text().count("## Operating point for responders") == 1
    assert ModelPackage.load(scoped_model).review_floors == {}
    with pytest.raises(TriageError, match="would overwrite"):
        write_floor_package(scoped_model, choice, scoped_model.parent)


def test_a_shipped_floor_is_reported_with_and_without_it(scoped_model, tmp_path):
    floored = write_floor_package(scoped_model, _choice(0.05), tmp_path / "floored")
    meta = json.loads((floored / "triage.json").read_text())
    meta["thresholds"] = {**meta["thresholds"], **dict.fromkeys(LABELS[1:], 0.0)}
    (floored / "triage.json").write_text(json.dumps(meta))  # few unsure posts without the floor
    results = evaluate_folds([floored], _run(tmp_path), command="test")
    (model,) = results["models"]
    with_floor, without = model["macro"], model["without_floors"]["macro"]
    request, request_before = with_floor["labels"]["request"], without["labels"]["request"]
    assert request["reach"] >= request_before["reach"]
    assert with_floor["review_share"] > without["review_share"]  # the floor adds reviews
    report = (tmp_path / "out" / "loco.md").read_text()
    assert "request ≥ 0.20; review if P(request) ≥ 0.0500 |" in report
    assert "request ≥ 0.20; without its review floor |" in report
