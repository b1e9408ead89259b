"""Kafka connection settings shared by the source, the sink, admin helpers and the CLI.

PLAINTEXT for a local broker; SSL, SASL_PLAINTEXT or SASL_SSL (PLAIN / SCRAM) for a real cluster.
The SASL password never appears on a command line: ``--sasl-password-env VAR`` names the
environment variable that holds it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

from models.errors import TriageError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
BOOTSTRAP_ENV = "TRIAGE_BOOTSTRAP_SERVERS"


@dataclass(frozen=True)
class KafkaSettings:
    """Where the Kafka cluster is and how to authenticate (hashable, picklable)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if not self.bootstrap_servers.strip():
            raise TriageError("--bootstrap-servers is empty: give HOST:PORT[,HOST:PORT...]")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise TriageError(
                f"unknown security protocol {self.security_protocol!r}: "
                f"use one of {', '.join(SECURITY_PROTOCOLS)}"
            )
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise TriageError(
                    f"{self.security_protocol} needs --sasl-mechanism "
                    f"({', '.join(SASL_MECHANISMS)})"
                )
            if not self.sasl_username or self.sasl_password is None:
                raise TriageError(
                    f"{self.security_protocol} needs --sasl-username and --sasl-password-env VAR"
                )

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def kafka_python_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaConsumer, KafkaProducer, KafkaAdminClient."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL_"):
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        if self.uses_ssl:
            for key, value in (
                ("ssl_cafile", self.ssl_cafile),
                ("ssl_certfile", self.ssl_certfile),
                ("ssl_keyfile", self.ssl_keyfile),
            ):
                if value:
                    kwargs[key] = value
        return kwargs

    def confluent_config(self) -> dict[str, str]:
        """Configuration dict for confluent-kafka (librdkafka property names)."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol.lower(),
        }
        if self.security_protocol.startswith("SASL_"):
            config.update(
                {
                    "sasl.mechanism": str(self.sasl_mechanism),
                    "sasl.username": str(self.sasl_username),
                    "sasl.password": str(self.sasl_password),
                }
            )
        if self.uses_ssl:
            for key, value in (
                ("ssl.ca.location", self.ssl_cafile),
                ("ssl.certificate.location", self.ssl_certfile),
                ("ssl.key.location", self.ssl_keyfile),
            ):
                if value:
                    config[key] = value
        return config


class _RefusePasswordFlag(argparse.Action):
    """``--sasl-password`` exists only to refuse it (argparse would otherwise take it as an
    abbreviation of --sasl-password-env and treat the password as a variable name)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[override]
        parser.error(
            "--sasl-password is not accepted (it would show in process lists): export the "
            "password in an environment variable and pass --sasl-password-env VAR"
        )


def add_kafka_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the Kafka connection flags (one argument group) to ``parser``."""
    group = parser.add_argument_group("Kafka connection")
    default_bootstrap = os.environ.get(BOOTSTRAP_ENV)
    group.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT[,...]",
        default=default_bootstrap,
        required=required and default_bootstrap is None,
        help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV}).",
    )
    group.add_argument(
        "--security-protocol",
        choices=SECURITY_PROTOCOLS,
        default="PLAINTEXT",
        help="Kafka security protocol (default: PLAINTEXT).",
    )
    group.add_argument(
        "--sasl-mechanism", choices=SASL_MECHANISMS, help="SASL mechanism for SASL_* protocols."
    )
    group.add_argument("--sasl-username", metavar="USER", help="SASL user name.")
    group.add_argument(
        "--sasl-password-env",
        metavar="VAR",
        help="Environment variable holding the SASL password (never pass it as a flag).",
    )
    group.add_argument("--sasl-password", action=_RefusePasswordFlag, help=argparse.SUPPRESS)
    group.add_argument("--ssl-cafile", metavar="PEM", help="CA bundle to verify the brokers.")
    group.add_argument("--ssl-certfile", metavar="PEM", help="Client certificate (mutual TLS).")
    group.add_argument("--ssl-keyfile", metavar="PEM", help="Client private key (mutual TLS).")


def settings_from_args(args: argparse.Namespace) -> KafkaSettings:
    """Build KafkaSettings from flags added by :func:`add_kafka_arguments`."""
    if not args.bootstrap_servers:
        raise TriageError(f"no Kafka given: pass --bootstrap-servers or set ${BOOTSTRAP_ENV}")
    password = None
    if args.sasl_password_env:
        password = os.environ.get(args.sasl_password_env)
        if password is None:
            raise TriageError(
                f"environment variable {args.sasl_password_env} (from --sasl-password-env) "
                "is not set: export it with the SASL password"
            )
    for flag in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(args, flag)
        if path and not os.path.isfile(path):
            raise TriageError(f"--{flag.replace('_', '-')} {path}: no such file")
    return KafkaSettings(
        bootstrap_servers=args.bootstrap_servers,
        security_protocol=args.security_protocol,
        sasl_mechanism=args.sasl_mechanism,
        sasl_username=args.sasl_username,
        sasl_password=password,
        ssl_cafile=args.ssl_cafile,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
