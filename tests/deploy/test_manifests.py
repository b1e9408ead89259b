"""deploy/ manifests: valid Kubernetes objects, and job arguments the job itself accepts.

Built-in kinds are validated offline against the Kubernetes 1.30 API's JSON schemas (strict:
unknown fields are errors) with kubernetes-validate; the FlinkDeployment (a custom resource
whose schema ships with the Flink operator, not here) gets a structural check. The container
arguments of the StatefulSet and the Flink submitter, and the Dataflow launch command, are
parsed by `triage run`'s own parser and Beam's options, so a renamed flag fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy").glob("*/*.yaml"))
K8S_VERSION = "1.30.0"


def _documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def _one(kind: str) -> dict:
    (doc,) = [doc for _, doc in _documents() if doc["kind"] == kind]
    return doc


def _options(argv: list[str]):
    """`triage run` argv → the job's PipelineOptions, exactly as `triage run` builds them."""
    from pipeline.cli import build_parser
    from pipeline.commands.run import _job_values
    from pipeline.options import make_options

    args, extra = build_parser().parse_known_args(argv)
    assert args.command == "run"
    return make_options(extra, _job_values(args))


def _expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion of container args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg) for arg in args]


def test_builtin_kinds_match_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    checked = []
    for path, doc in _documents():
        if doc["apiVersion"].endswith("flink.apache.org/v1beta1"):
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}: {exc.message} at {list(exc.path)}")
        checked.append(doc["kind"])
    assert sorted(checked) == ["Job", "Service", "StatefulSet"]


def test_statefulset_replicas_probes_metrics_and_resources() -> None:
    from pipeline.options import TriageOptions

    sts = _one("StatefulSet")
    pod = sts["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    index_from = env["REPLICA_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index_from == "metadata.labels['apps.kubernetes.io/pod-index']"
    replicas = sts["spec"]["replicas"]
    for ordinal in range(replicas):  # every pod's arguments are accepted, with its own share
        values = {"REPLICA_INDEX": str(ordinal), "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
        job = _options(_expand(container["args"], values))
        job = job.view_as(TriageOptions)
        assert (job.replicas, job.replica) == (replicas, ordinal)
    port = container["ports"][0]
    assert port == {"name": "metrics", "containerPort": job.metrics_port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe
    annotations = pod["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(job.metrics_port),
        "prometheus.io/path": "/metrics",
    }
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    service = _one("Service")
    assert service["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]


def test_flink_session_cluster_and_submitter() -> None:
    from apache_beam.options.pipeline_options import FlinkRunnerOptions, StandardOptions

    flink = _one("FlinkDeployment")
    spec = flink["spec"]
    assert flink["apiVersion"] == "flink.apache.org/v1beta1"
    assert spec["flinkVersion"] == "v1_20" and spec["image"].startswith("flink:1.20")
    assert "job" not in spec  # a session cluster: the Job below submits the pipeline
    for role in ("jobManager", "taskManager"):
        assert {"memory", "cpu"} <= set(spec[role]["resource"]), role
    containers = {c["name"]: c for c in spec["taskManager"]["podTemplate"]["spec"]["containers"]}
    pool = containers["beam-worker-pool"]
    assert pool["args"] == ["--worker_pool"]
    assert {"worker-pool": 50000, "metrics": 9108} == {
        p["name"]: p["containerPort"] for p in pool["ports"]
    }

    (submit,) = _one("Job")["spec"]["template"]["spec"]["containers"]
    options = _options(submit["args"])
    assert options.view_as(StandardOptions).runner == "FlinkRunner"
    assert options.view_as(StandardOptions).streaming  # unbounded on a distributed runner
    flink_options = options.view_as(FlinkRunnerOptions)
    assert flink_options.flink_master == f"{flink['metadata']['name']}-rest:8081"
    assert flink_options.flink_version == "1.20"
    assert options.get_all_options()["environment_config"] == "localhost:50000"
    # A flag only Flink's Java side knows reaches the job server (Beam keeps unknown options).
    retained = options.get_all_options(retain_unknown_options=True)
    assert str(retained["checkpointing_interval"]) == "10000"


def test_dataflow_launch_command_is_accepted() -> None:
    from apache_beam.options.pipeline_options import GoogleCloudOptions, StandardOptions

    env = {
        **os.environ,
        "DRY_RUN": "1",
        "PROJECT": "p",
        "REGION": "europe-west1",
        "BUCKET": "b",
        "IMAGE": "europe-west1-docker.pkg.dev/p/triage/crisis-triage:0.1.0",
        "KAFKA": "10.0.0.5:9092",
    }
    script = ROOT / "deploy" / "dataflow" / "launch.sh"
    printed = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, check=True
    ).stdout
    argv = shlex.split(printed)
    assert argv[:2] == ["triage", "run"]
    options = _options(argv[1:])
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(StandardOptions).streaming
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("p", "europe-west1", "gs://b/tmp")
    missing = subprocess.run(["bash", str(script)], capture_output=True, text=True, env={})
    assert missing.returncode != 0 and "set PROJECT" in missing.stderr
