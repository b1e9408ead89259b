"""`triage backfill` on a local Dask cluster, on real shared data, against `triage classify`.

Real parts: the shipped default model, real crisis posts (read from ../shared/data at run time
and written to temporary CSV/JSONL/Parquet files), Beam's DaskRunner on a 2-worker LocalCluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline.cli import main

pytestmark = pytest.mark.slow

MARIA_ROWS, HUMAID_ROWS = 300, 150


@pytest.fixture(scope="module")
def inputs(shared_data: Path, tmp_path_factory) -> Path:
    """maria.csv (real rows + an empty text), more.parquet (real rows, int ids) and
    bad.jsonl (real rows + broken lines) in one folder."""
    folder = tmp_path_factory.mktemp("backfill-inputs")
    maria = pl.read_csv(shared_data / "humaid_maria" / "humaid_maria.csv", infer_schema_length=0)
    maria = maria.head(MARIA_ROWS).select("text", "event")
    empty = pl.DataFrame({"text": [""], "event": ["none"]})
    pl.concat([maria, empty]).write_csv(folder / "maria.csv")
    humaid = pl.read_csv(shared_data / "humaid" / "humaid.csv", infer_schema_length=0)
    humaid = humaid.tail(HUMAID_ROWS).select("text")
    humaid.with_row_index("id", offset=1000).write_parquet(folder / "more.parquet")
    lines = [json.dumps({"id": f"j{i}", "text": t}) for i, t in enumerate(humaid["text"][:20])]
    lines += ["{broken", json.dumps({"id": "no-text"}), json.dumps(["not", "an", "object"])]
    (folder / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _classify(path: Path, out: Path) -> dict[str, str]:
    assert main(["classify", "--input", str(path), "--output", str(out), "--no-progress"]) == 0
    return {str(r["id"]): r["label"] for r in map(json.loads, out.read_text().splitlines())}


def test_backfill_matches_classify_and_resumes(inputs: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = [
        "backfill", "--input", str(inputs / "*.csv"), "--input", str(inputs / "*.[pj]*"),
        "--output", str(out), "--workers", "2", "--chunk-rows", "100",
        "--dashboard-address", ":0",
    ]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "local cluster of 2 Dask workers" in err and "dashboard: http://" in err, err
    assert "backfill: 100%" in err  # the progress count reached the end
    total = MARIA_ROWS + 1 + HUMAID_ROWS + 23
    assert f"{total} rows → {total - 4} labelled + 4 dead letters" in err

    labels = pl.read_parquet(out / "labels" / "*.parquet")
    assert labels.height == total - 4 and labels["id"].n_unique() == labels.height
    assert len(list((out / "labels").glob("part-*.parquet"))) == 4 + 2 + 1  # chunks of 100 rows
    row = labels.filter(pl.col("id") == "maria-0").to_dicts()[0]
    assert set(row["probabilities"]) == {"request", "offer", "emotional_support", "other"}
    assert abs(sum(row["probabilities"].values()) - 1) < 1e-3
    assert row["model_name"] == "triage-tiny" and row["model_version"]
    assert row["event"] == "hurricane_maria_2017" and row["source_row"] == 0
    assert row["route"] in {"requests", "offers", "support", "other", "review"}
    located = labels.filter(pl.col("enrichment").struct.field("location").is_not_null())
    assert located.height > 0  # the gazetteer finds Puerto Rico in Maria posts
    dead = pl.read_parquet(out / "dead_letters.parquet")
    assert sorted(dead["reason"]) == ["empty_text", "invalid_json", "missing_text", "not_an_object"]
    assert dead.filter(pl.col("reason") == "missing_text")["id"].to_list() == ["no-text"]

    # Labels agree with the one-process `triage classify` on the same posts (ids by row).
    expected = _classify(inputs / "maria.csv", tmp_path / "maria.jsonl")
    expected |= _classify(inputs / "more.parquet", tmp_path / "more.jsonl")
    got = dict(zip(labels["id"], labels["label"], strict=True))
    compared = [i for i in got if i in expected]
    assert len(compared) == MARIA_ROWS + HUMAID_ROWS
    agreement = sum(got[i] == expected[i] for i in compared) / len(compared)
    assert agreement >= 0.99, agreement

    # A stopped backfill resumes: only the missing chunk runs, the result is the same.
    (out / "labels" / "part-0000-00001.parquet").unlink()
    capsys.readouterr()
    assert main(argv) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main([*argv, "--resume", "--workers", "1"]) == 0
    assert "6 of 7 chunks kept from before" in capsys.readouterr().err
    again = pl.read_parquet(out / "labels" / "*.parquet")
    assert sorted(again["id"]) == sorted(labels["id"])
    assert pl.read_parquet(out / "dead_letters.parquet").height == 4
