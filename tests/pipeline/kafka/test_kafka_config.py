"""KafkaSettings and the shared Kafka CLI flags."""

from __future__ import annotations

import argparse

import pytest

from models.errors import TriageError
from pipeline.kafka.config import KafkaSettings, add_kafka_arguments, settings_from_args


def parse(argv: list[str], required: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_kafka_arguments(parser, required=required)
    return parser.parse_args(argv)


def test_plaintext_defaults() -> None:
    settings = settings_from_args(parse(["--bootstrap-servers", "a:9092,b:9092"]))
    assert settings == KafkaSettings("a:9092,b:9092")
    assert settings.kafka_python_kwargs() == {
        "bootstrap_servers": ["a:9092", "b:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert settings.confluent_config() == {
        "bootstrap.servers": "a:9092,b:9092",
        "security.protocol": "plaintext",
    }


def test_sasl_ssl_password_comes_from_the_environment(monkeypatch, tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("KAFKA_PW", "s3cret")
    args = parse(
        [
            "--bootstrap-servers=k:9093",
            "--security-protocol=SASL_SSL",
            "--sasl-mechanism=SCRAM-SHA-512",
            "--sasl-username=triage",
            "--sasl-password-env=KAFKA_PW",
            f"--ssl-cafile={ca}",
        ]
    )
    settings = settings_from_args(args)
    assert "s3cret" not in repr(settings)
    kwargs = settings.kafka_python_kwargs()
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "triage"
    assert kwargs["sasl_plain_password"] == "s3cret"
    assert kwargs["ssl_cafile"] == str(ca)
    conf = settings.confluent_config()
    assert conf["security.protocol"] == "sasl_ssl"
    assert conf["sasl.password"] == "s3cret"
    assert conf["ssl.ca.location"] == str(ca)


def test_there_is_no_password_flag() -> None:
    with pytest.raises(SystemExit):
        parse(["--bootstrap-servers=k:1", "--sasl-password=x"])


def test_unset_password_variable_is_a_user_error(monkeypatch) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    args = parse(
        [
            "--bootstrap-servers=k:1",
            "--security-protocol=SASL_PLAINTEXT",
            "--sasl-mechanism=PLAIN",
            "--sasl-username=u",
            "--sasl-password-env=NOPE_PW",
        ]
    )
    with pytest.raises(TriageError, match="NOPE_PW"):
        settings_from_args(args)


def test_sasl_without_credentials_is_rejected() -> None:
    with pytest.raises(TriageError, match="sasl-mechanism"):
        KafkaSettings("k:1", security_protocol="SASL_SSL")
    with pytest.raises(TriageError, match="sasl-username"):
        KafkaSettings("k:1", security_protocol="SASL_SSL", sasl_mechanism="PLAIN")


def test_missing_certificate_file_is_a_user_error(tmp_path) -> None:
    args = parse(["--bootstrap-servers=k:1", f"--ssl-cafile={tmp_path / 'missing.pem'}"])
    with pytest.raises(TriageError, match="no such file"):
        settings_from_args(args)


def test_bootstrap_servers_default_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("TRIAGE_BOOTSTRAP_SERVERS", "env-host:9092")
    assert settings_from_args(parse([])).bootstrap_servers == "env-host:9092"
    monkeypatch.delenv("TRIAGE_BOOTSTRAP_SERVERS")
    with pytest.raises(SystemExit):
        parse([])
    with pytest.raises(TriageError, match="bootstrap-servers"):
        settings_from_args(parse([], required=False))
