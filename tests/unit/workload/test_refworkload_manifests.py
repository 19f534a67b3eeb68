"""The reference workload's manifests agree with each other and with the running service."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from refworkload.metrics import Metrics
from refworkload.params import PARAM_KEYS, RULES_BY_KEY, Params, coerce_value

K8S = Path(__file__).resolve().parents[3] / "examples" / "reference-workload" / "k8s"


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((K8S / name).read_text())
    assert isinstance(doc, dict)
    return doc


def upir_initial_params(upir: dict[str, Any]) -> dict[str, float]:
    return {
        f"{c['name']}.{k}": float(v)
        for c in upir["spec"]["architecture"]["components"]
        for k, v in c.get("params", {}).items()
    }


def test_upir_describes_the_four_stages() -> None:
    upir = load("upir.yaml")
    assert upir["apiVersion"] == "upir.dev/v1alpha1" and upir["kind"] == "UPIR"
    components = {c["name"]: c["type"] for c in upir["spec"]["architecture"]["components"]}
    assert components == {
        "gateway": "service",
        "orders": "queue",
        "batcher": "batcher",
        "worker": "service",
    }
    edges = [(e["from"], e["to"]) for e in upir["spec"]["architecture"]["connections"]]
    assert edges == [("gateway", "orders"), ("orders", "batcher"), ("batcher", "worker")]
    assert upir["spec"]["tuning"]["mode"] == "Auto"


def test_upir_params_and_tunables_are_workload_params() -> None:
    upir = load("upir.yaml")
    initial = upir_initial_params(upir)
    assert set(initial) == set(PARAM_KEYS)
    for key, value in initial.items():
        coerce_value(RULES_BY_KEY[key], value)  # within the workload's own bounds
    for parameter in upir["spec"]["parameters"]:
        rule = RULES_BY_KEY[parameter["name"]]
        coerce_value(rule, parameter["min"])
        coerce_value(rule, parameter["max"])
        assert parameter["min"] <= initial[parameter["name"]] <= parameter["max"]


def test_configmap_holds_the_upir_initial_params() -> None:
    upir = load("upir.yaml")
    configmap = load("configmap.yaml")
    assert configmap["metadata"]["name"] == upir["spec"]["target"]["configMap"]
    data = {k: float(v) for k, v in configmap["data"].items()}
    assert data == upir_initial_params(upir)
    assert all(isinstance(v, str) for v in configmap["data"].values())


def test_promql_uses_metrics_the_workload_exports() -> None:
    exported = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(Metrics().registry).decode())
        for sample in family.samples
    }
    queries = load("upir.yaml")["spec"]["tuning"]["prometheus"]["queries"]
    assert set(queries) >= {"latency_ms", "throughput_rps", "error_rate"}
    for promql in queries.values():
        names = set(re.findall(r"\brefworkload_[a-z_]+", promql))
        assert names and names <= exported, (promql, names - exported)
    assert "histogram_quantile(0.99" in queries["latency_ms"]
    assert "refworkload_request_duration_seconds_bucket" in queries["latency_ms"]
    assert queries["latency_ms"].rstrip().endswith("* 1000")  # seconds -> ms


def test_deployment_mounts_the_configmap_and_runs_restricted() -> None:
    deployment = load("deployment.yaml")
    configmap = load("configmap.yaml")
    service = load("service.yaml")
    upir = load("upir.yaml")
    assert deployment["metadata"]["name"] == upir["spec"]["target"]["deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (volume,) = pod["volumes"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    (mount,) = container["volumeMounts"]
    # A subPath mount would never see ConfigMap updates.
    assert "subPath" not in mount and mount["name"] == volume["name"]
    assert f"--params-file={mount['mountPath']}" in container["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    csc = container["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"]["drop"] == ["ALL"]
    port = container["ports"][0]["containerPort"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port
    assert annotations["prometheus.io/path"] == "/metrics"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_default_params_match_the_documented_defaults() -> None:
    # README.md documents these defaults; keep them honest.
    readme = (K8S.parent / "README.md").read_text()
    for key, value in Params().as_dict().items():
        assert re.search(rf"`{re.escape(key)}`[^\n]*\| {value:g} \|", readme), key


def test_the_upir_library_accepts_the_resource() -> None:
    from upir.core import UPIR

    doc = load("upir.yaml")
    model = UPIR.from_resource(doc)
    assert [c.name for c in model.architecture.components] == [
        "gateway",
        "orders",
        "batcher",
        "worker",
    ]
