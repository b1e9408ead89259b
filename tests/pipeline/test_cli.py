"""`triage run|replay|classify|demo|backfill`: help with examples, one-line errors, runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help and flag errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("triage"), err
    for needle in needles:
        assert needle in lines[0], err


@pytest.mark.parametrize("command", ["run", "replay", "classify", "demo", "backfill"])
def test_help_has_examples(command: str, capsys) -> None:
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    assert "Examples:" in out and f"triage {command}" in out


KAFKA = ["--bootstrap-servers", "127.0.0.1:9"]
JOB = [*KAFKA, "--input-topic", "in", "--output-prefix", "out", "--group-id", "g"]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["run", *KAFKA], ["missing required flag", "--input-topic", "--group-id"]),
        (["run", *JOB, "--bounded", "--stop-after-idle", "5"], ["exclude each other"]),
        (["run", *JOB, "--batch-size", "0"], ["--batch-size", "at least 1"]),
        (["run", *JOB, "--stop-after-idle", "soon"], ["--stop-after-idle"]),
        (["run", *JOB, "--device", "tpu"], ["--device"]),
        (["run", *JOB, "--max-batch-wait", "2"], ["--max-batch-wait", "FnApiRunner"]),
        (["run", *JOB, "--model", "/no/such/model"], ["/no/such/model", "does not exist"]),
        (["run", *JOB, "--bouded"], ["unknown flag --bouded", "did you mean --bounded?"]),
        (["run", *JOB, "--bogus-flag", "1"], ["unknown flag --bogus-flag"]),
        (["run", *JOB, "--flink-master=x"], ["did you mean --flink_master?"]),
        (["run", *JOB, "--runner=FlinkRunner", "--bouded"], ["did you mean --bounded?"]),
        (["run", *JOB], ["cannot reach Kafka at 127.0.0.1:9", "Connection refused"]),
        (["replay", "/no/such/file.csv", "--topic", "t", *KAFKA], ["no such file"]),
        (["replay", "posts.csv", *KAFKA], ["--topic"]),
        (["replay", "f.csv", "--topic", "t", "--rate", "-3", *KAFKA], ["--rate"]),
        (["replay", "f.csv", "--topic", "t", "--bogus", *KAFKA], ["unrecognized", "--bogus"]),
        (["classify", "--output", "o.jsonl"], ["--input"]),
        (["classify", "--input", "/no/such.jsonl", "--output", "o.jsonl"], ["no such file"]),
        (["run", *JOB, "--replicas", "2", "--replica", "3"], ["--replica 3", "use 0..1"]),
        (["backfill", "--input", "/no/such/*.csv", "--output", "o"], ["no file matches"]),
        (["backfill", "--input", "f.csv", "--output", "o", "--workers", "0"], ["--workers"]),
        (["demo", "--model", "/no/such/model"], ["/no/such/model"]),
        (["demo", "--rate", "0"], ["--rate"]),
    ],
)
def test_one_line_errors(argv: list[str], needles: list[str], capsys) -> None:
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, *needles)


def test_run_cuda_without_cuda_is_one_line(tiny_model: Path, capsys) -> None:
    code, _, err = run_cli(["run", *JOB, "--model", str(tiny_model), "--device", "cuda"], capsys)
    assert_one_line_error(code, err, "cuda")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_replay_and_classify_column_errors(tmp_path: Path, capsys) -> None:
    csv = tmp_path / "posts.csv"
    csv.write_text("tweet_id,tweet\n1,help us\n", encoding="utf-8")
    code, _, err = run_cli(["classify", "--input", str(csv), "--output", "o.jsonl"], capsys)
    assert_one_line_error(code, err, "'text'", "--text-column")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok"}\nnot json\n', encoding="utf-8")
    code, _, err = run_cli(
        ["classify", "--input", str(bad), "--output", str(tmp_path / "o.jsonl")], capsys
    )
    assert_one_line_error(code, err, "bad.jsonl:2")
    txt = tmp_path / "posts.txt"
    txt.write_text("hello\n", encoding="utf-8")
    code, _, err = run_cli(["replay", str(txt), "--topic", "t", *KAFKA], capsys)
    assert_one_line_error(code, err, "unsupported file type")


def test_classify_csv_and_jsonl(tiny_model: Path, tmp_path: Path, capsys) -> None:
    from models.runtime import OnnxClassifier

    csv = tmp_path / "posts.csv"
    csv.write_text(
        'tweet_id,tweet,label\n10,"We need water in Ponce",x\n11,"Praying for you all",y\n',
        encoding="utf-8",
    )
    out = tmp_path / "labelled.jsonl"
    argv = ["classify", "--input", str(csv), "--output", str(out), "--model", str(tiny_model)]
    code, _, err = run_cli([*argv, "--text-column", "tweet", "--id-column", "tweet_id"], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == ["10", "11"]
    assert lines[0]["text"] == "We need water in Ponce"
    direct = OnnxClassifier.from_path(tiny_model).predict([line["text"] for line in lines])
    for line, prediction in zip(lines, direct, strict=True):
        assert set(line) == {"id", "text", "label", "probabilities", "model"}
        assert line["label"] == prediction.label
        assert line["model"]["name"] == "tiny-random"

    jsonl = _write_jsonl(tmp_path / "p.jsonl", [{"text": "a"}, {"id": "z", "text": "b"}])
    code, _, err = run_cli(
        ["classify", "--input", str(jsonl), "--output", str(out), "--model", str(tiny_model)],
        capsys,
    )
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert ids == ["p-0", "z"]


@pytest.mark.integration
def test_replay_produces_posts(kafka_settings, tmp_path: Path, capsys) -> None:
    from job_helpers import read_topic

    csv = tmp_path / "maria.csv"
    csv.write_text(
        "tweet_id,tweet,event,label\n"
        '1,"Need insulin in Utuado",maria,req\n'
        '2,"Free water at the plaza",maria,off\n'
        '3,"Stay strong PR",,sup\n',
        encoding="utf-8",
    )
    argv = ["replay", str(csv), "--topic", "replay.posts", "--no-progress"]
    argv += ["--text-column", "tweet", "--id-column", "tweet_id", "--rate", "100"]
    code, _, err = run_cli([*argv, "--bootstrap-servers", kafka_settings.bootstrap_servers], capsys)
    assert code == 0, err
    assert "sent 3 posts" in err
    records = read_topic(kafka_settings, "replay.posts")
    posts = sorted((json.loads(r.value) for r in records), key=lambda p: p["id"])
    assert posts == [
        {"id": "1", "text": "Need insulin in Utuado", "event": "maria"},
        {"id": "2", "text": "Free water at the plaza", "event": "maria"},
        {"id": "3", "text": "Stay strong PR"},
    ]
    assert sorted(r.key for r in records) == [b"1", b"2", b"3"]


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_end_to_end(tiny_model: Path, capsys) -> None:
    """`triage demo`: own broker, job subprocess, replay, live progress and a summary."""
    argv = ["demo", "--model", str(tiny_model), "--posts", "40", "--rate", "40"]
    # --keep-serving: after the replay the job and dashboard stay up until --duration (or Ctrl-C)
    argv += ["--keep-serving", "--duration", "40"]
    code, out, err = run_cli([*argv, "--metrics-port", "0"], capsys)
    assert code == 0, out + err
    assert "metrics at http://127.0.0.1:" in out
    assert "dashboard at http://127.0.0.1:" in out and "?token=" in out
    assert "every post is routed; still serving" in out
    assert "--duration reached" in out
    assert "posts sent 40, routed or dead-lettered 40" in out
    assert "sent 40/40" in out


def test_backfill_bad_scheduler_and_model_are_one_line(tmp_path: Path, capsys) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "a", "text": "need water"}\n')
    base = ["backfill", "--input", str(posts), "--output", str(tmp_path / "out")]
    code, _, err = run_cli([*base, "--model", "/no/such/model"], capsys)
    assert_one_line_error(code, err, "/no/such/model")
    code, _, err = run_cli([*base, "--dask-scheduler", "tcp://127.0.0.1:9"], capsys)
    assert_one_line_error(code, err, "Dask scheduler tcp://127.0.0.1:9")
    code, _, err = run_cli([*base, "--dask-scheduler", "scheduler-host"], capsys)
    assert_one_line_error(code, err, "expected tcp://HOST:PORT")


@pytest.mark.integration
def test_learn_reads_feedback_from_kafka_and_counts_what_it_skips(
    kafka_settings, tiny_model: Path, tmp_path: Path, capsys
) -> None:
    from kafka import KafkaProducer

    from pipeline.feedback import feedback_message
    from pipeline.kafka import ensure_topics

    ensure_topics(kafka_settings, ["learn.feedback"], 1)
    producer = KafkaProducer(**kafka_settings.kafka_python_kwargs(), acks="all")
    item = {"id": "p", "text": "need water", "label": "other", "route": "review", "model": "m@1"}
    for i in range(5):
        value = feedback_message({**item, "id": f"p{i}"}, "misclassified", "request")
        producer.send("learn.feedback", json.dumps(value).encode())
    producer.send("learn.feedback", b"{broken")
    producer.flush()
    argv = ["learn", "--model", str(tiny_model), "--prefix", "learn", "--min-labels", "50"]
    argv += ["--bootstrap-servers", kafka_settings.bootstrap_servers]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert "6 messages from learn.feedback" in out and "5 labelled posts" in out
    assert "'invalid_json': 1" in out
    assert err.strip().endswith("or lower --min-labels") and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["learn", "--feedback-file", "/no/such.jsonl"], "no such file"),
        (["learn"], "exactly one feedback source"),
        (["learn", "--feedback-file", "x", "--prefix", "y"], "exactly one feedback source"),
    ],
)
def test_learn_argument_errors_are_one_line(argv: list[str], needle: str, capsys) -> None:
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
