"""Manifest templates: schema-valid, deterministic, right key fields (issue 4)."""

import copy
import dataclasses
import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from upir.certificates import generate_signing_key, issue_certificate
from upir.core import UPIR, Target
from upir.errors import PermanentError
from upir.templates import (
    ANN_CERT_DIGEST,
    ANN_CERT_KEY_ID,
    ANN_PARAMS_HASH,
    ANN_SPEC_HASH,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    entry_service,
    render_manifests,
)

K8S_VERSIONS = ("1.37.0", "1.29.0")
OWNER = {
    "apiVersion": "upir.dev/v1alpha1",
    "kind": "UPIR",
    "name": "x",
    "uid": "0b7e6a52-4d1c-4a8e-9d57-1f2a3b4c5d6e",
    "controller": True,
    "blockOwnerDeletion": True,
}


@pytest.fixture(scope="module", autouse=True)
def _cached_schemas() -> Iterator[None]:
    """kubernetes-validate re-reads its JSON schema files on every call; caching
    the parsed files (read-only to the validator) makes each check ~2 ms."""
    with pytest.MonkeyPatch.context() as mp:
        cached = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)
        mp.setattr(kubernetes_validate.utils, "schema_contents", cached)
        yield


def _doc(system_type: str, *, target: bool = True, tunable_replicas: bool = True) -> dict[str, Any]:
    """One spec per system type, shaped like the examples."""
    comps: list[dict[str, Any]]
    conns: list[dict[str, str]]
    params: list[dict[str, Any]]
    if system_type == "api":
        comps = [
            {"name": "gateway", "type": "service", "params": {"replicas": 3, "timeout_ms": 300}},
            {"name": "orders", "type": "queue", "params": {"capacity": 5000}},
            {"name": "fulfil", "type": "service", "params": {"replicas": 4}},
        ]
        conns = [{"from": "gateway", "to": "orders"}, {"from": "orders", "to": "fulfil"}]
        params = [{"name": "gateway.timeout_ms", "min": 50, "max": 2000, "step": 10}]
        constraints: dict[str, Any] = {"availability": {"min": 0.999}, "cost": {"max": 12}}
    elif system_type == "streaming":
        # the entry is a queue: the first *service* in topological order sizes the workload
        comps = [
            {"name": "events", "type": "queue", "params": {"capacity": 20000}},
            {"name": "batcher", "type": "batcher", "params": {"batch_size": 100, "flush_ms": 12.5}},
            {"name": "processor", "type": "service", "params": {"replicas": 4}},
        ]
        conns = [{"from": "events", "to": "batcher"}, {"from": "batcher", "to": "processor"}]
        params = [{"name": "batcher.flush_ms", "min": 0, "max": 1000, "step": 0.5}]
        constraints = {"throughput_rps": {"min": 1000}}
    else:
        comps = [
            {
                "name": "extract",
                "type": "service",
                "params": {"replicas": 2, "cost_per_replica": 2},
            },
            {"name": "chunker", "type": "batcher", "params": {"batch_size": 500}},
        ]
        conns = [{"from": "extract", "to": "chunker"}]
        params = [{"name": "chunker.batch_size", "min": 10, "max": 5000, "step": 10}]
        constraints = {"cost": {"max": 20}}
    entry = {"api": "gateway", "streaming": "processor", "batch": "extract"}[system_type]
    if tunable_replicas:
        params.append({"name": f"{entry}.replicas", "min": 1, "max": 8})
    spec: dict[str, Any] = {
        "systemType": system_type,
        "architecture": {"components": comps, "connections": conns},
        "specification": {
            "properties": [
                {"name": "sized", "operator": "ALWAYS", "predicate": f"{entry}.replicas >= 1"}
            ],
            "constraints": constraints,
        },
        "parameters": params,
    }
    if target:
        spec["target"] = {"deployment": f"{system_type}-app"}
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": f"{system_type}-sys", "namespace": "team-a"},
        "spec": spec,
    }


def _upir(system_type: str, **kw: Any) -> UPIR:
    return UPIR.from_resource(_doc(system_type, **kw))


def _by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [m["kind"] for m in manifests]
    assert len(kinds) == len(set(kinds))
    return {m["kind"]: m for m in manifests}


CASES = [
    (st, target, tunable)
    for st in ("api", "streaming", "batch")
    for target in (True, False)
    for tunable in (True, False)
]


@pytest.mark.parametrize("system_type, target, tunable", CASES)
@pytest.mark.parametrize("owner", [None, OWNER])
def test_every_manifest_validates_against_kubernetes_schemas(
    system_type: str, target: bool, tunable: bool, owner: dict[str, Any] | None
) -> None:
    u = _upir(system_type, target=target, tunable_replicas=tunable)
    manifests = render_manifests(u, {}, owner=owner)
    assert manifests[0]["kind"] == "ConfigMap"
    if not target:
        assert len(manifests) == 1
    for m in manifests:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(m, version, strict=True)
        name = m["metadata"]["name"]
        assert len(name) <= 63
        assert m["metadata"]["namespace"] == "team-a"


def test_api_golden_fields() -> None:
    u = _upir("api", tunable_replicas=False)
    key = generate_signing_key()
    verdicts = [{"property": p.name, "status": "PROVED"} for p in u.specification.all_properties()]
    moved = u.with_params({"gateway.timeout_ms": 250})
    cert = issue_certificate(
        moved,
        verdicts,
        moved.param_values(),
        key,
        solver_version="4",
        model_version="1",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    ms = render_manifests(u, {"gateway.timeout_ms": 250}, certificate=cert.to_dict(), owner=OWNER)
    assert [m["kind"] for m in ms] == [
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ]
    k = _by_kind(ms)
    cm = k["ConfigMap"]
    assert cm["metadata"]["name"] == "api-sys-params"
    assert cm["data"]["gateway.timeout_ms"] == "250"
    assert cm["data"]["gateway.replicas"] == "3"
    assert cm["data"]["orders.capacity"] == "5000"
    assert cm["data"]["fulfil.retries"] == "0"  # catalogue default filled in
    assert set(cm["data"]) == set(u.param_values())
    assert cm["metadata"]["labels"] == {LABEL_MANAGED_BY: "upir-operator", LABEL_NAME: "api-sys"}
    ann = cm["metadata"]["annotations"]
    assert ann[ANN_SPEC_HASH] == u.spec_hash()
    assert ann[ANN_CERT_KEY_ID] == key.key_id
    assert ann[ANN_CERT_DIGEST] == cert.digest[:16]
    for m in ms:
        refs = m["metadata"].get("ownerReferences")
        # never an owner on the user's Deployment: deleting the UPIR must not delete it
        assert refs == ([OWNER] if m["kind"] != "Deployment" else None)
    dep = k["Deployment"]
    assert dep["metadata"]["name"] == "api-app"
    assert dep["spec"]["replicas"] == 3
    tmpl = dep["spec"]["template"]
    assert tmpl["metadata"]["annotations"][ANN_PARAMS_HASH] == ann[ANN_PARAMS_HASH]
    container = tmpl["spec"]["containers"][0]
    assert container["volumeMounts"] == [
        {"name": "upir-params", "mountPath": "/etc/upir/params", "readOnly": True}
    ]
    assert "envFrom" not in container  # atomic under server-side apply: never touched
    assert tmpl["spec"]["volumes"][0]["configMap"]["name"] == "api-sys-params"
    assert container["volumeMounts"][0]["name"] == tmpl["spec"]["volumes"][0]["name"]
    svc = k["Service"]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"] == {"app": "api-app"}
    # 3 replicas, availability >= 0.999: ceil(2.997) = 3, capped at 2 so drains can proceed
    assert k["PodDisruptionBudget"]["spec"]["minAvailable"] == 2


def test_api_with_tunable_replicas_gets_an_hpa_bounded_by_cost() -> None:
    u = _upir("api")
    k = _by_kind(render_manifests(u, {"gateway.replicas": 4}))
    hpa = k["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "api-app",
    }
    # floor is the rendered (proved) value, not the domain minimum
    assert hpa["spec"]["minReplicas"] == 4
    # domain max 8, but cost <= 12 with fulfil at 4 x 1 leaves room for 8 -> 8
    assert hpa["spec"]["maxReplicas"] == 8
    # the HPA owns replicas: the patch leaves them alone
    assert "replicas" not in k["Deployment"]["spec"]
    assert k["PodDisruptionBudget"]["spec"]["minAvailable"] == 3
    tight = UPIR.from_resource(
        {
            **_doc("api"),
            "spec": {
                **_doc("api")["spec"],
                "specification": {"constraints": {"cost": {"max": 10}}},
            },
        }
    )
    hpa = _by_kind(render_manifests(tight, {"gateway.replicas": 4}))["HorizontalPodAutoscaler"]
    assert hpa["spec"]["maxReplicas"] == 6  # (10 - 4) / 1
    capped = render_manifests(u, {"gateway.replicas": 4}, max_replicas=5)
    assert _by_kind(capped)["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 5
    # no room above the proved value: no HPA, fixed replicas
    k = _by_kind(render_manifests(u, {"gateway.replicas": 4}, max_replicas=4))
    assert "HorizontalPodAutoscaler" not in k and k["Deployment"]["spec"]["replicas"] == 4


def test_system_types_differ_where_it_matters() -> None:
    streaming = _by_kind(render_manifests(_upir("streaming"), {}))
    assert set(streaming) == {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    # no availability constraint: a majority of the 4 processors stays up
    assert streaming["PodDisruptionBudget"]["spec"]["minAvailable"] == 2
    assert streaming["ConfigMap"]["data"]["batcher.flush_ms"] == "12.5"
    batch = _by_kind(render_manifests(_upir("batch"), {}))
    assert set(batch) == {"ConfigMap", "Deployment", "HorizontalPodAutoscaler"}  # no PDB
    # cost <= 20 at 2 per replica: at most 10, domain says 8
    assert batch["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2
    assert batch["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 8
    down = batch["HorizontalPodAutoscaler"]["spec"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] > 300
    with_service = _by_kind(render_manifests(_upir("streaming"), {}, service=True))
    assert "Service" in with_service
    without = _by_kind(render_manifests(_upir("api"), {}, service=False))
    assert "Service" not in without


def test_entry_service_is_first_service_in_topological_order() -> None:
    assert entry_service(_upir("api")) == "gateway"
    assert entry_service(_upir("streaming")) == "processor"


def test_rendering_is_deterministic_and_tracks_parameters() -> None:
    u = _upir("api")
    a = render_manifests(u, {"gateway.timeout_ms": 250, "gateway.replicas": 2}, owner=OWNER)
    b = render_manifests(u, {"gateway.replicas": 2, "gateway.timeout_ms": 250}, owner=dict(OWNER))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a) == json.dumps(b)  # same key order too
    c = render_manifests(u, {"gateway.timeout_ms": 260, "gateway.replicas": 2}, owner=OWNER)

    def pod_hash(ms: list[dict[str, Any]]) -> str:
        ann = _by_kind(ms)["Deployment"]["spec"]["template"]["metadata"]["annotations"]
        value: str = ann[ANN_PARAMS_HASH]
        return value

    assert pod_hash(a) != pod_hash(c)  # changed params roll the pods
    # the caller's inputs are not modified
    assert u == _upir("api")


def test_target_config_map_name_and_long_names() -> None:
    doc = _doc("api")
    doc["spec"]["target"]["configMap"] = "my-params"
    assert render_manifests(UPIR.from_resource(doc), {})[0]["metadata"]["name"] == "my-params"
    names = set()
    for suffix in ("a", "b"):
        doc = _doc("api")
        # the longest names the schema admits: every derived name needs shortening
        doc["metadata"]["name"] = "x" * 62 + suffix
        doc["spec"]["target"]["deployment"] = "d" * 62 + suffix
        ms = render_manifests(UPIR.from_resource(doc), {})
        for m in ms:
            kubernetes_validate.validate(m, K8S_VERSIONS[0], strict=True)
            if m["kind"] != "Deployment":
                assert len(m["metadata"]["name"]) <= 63
                assert len(m["metadata"]["labels"][LABEL_NAME]) <= 63
        names.update(f"{m['kind']}/{m['metadata']['name']}" for m in ms)
    assert len(names) == 10  # 5 objects each; hash suffixes keep truncated names apart


def test_live_workload_supplies_selector_container_and_ports() -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api-app", "namespace": "team-a"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "shop"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "shop"}},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "envoy"},
                        {
                            "name": "server",
                            "image": "shop:1",
                            "ports": [
                                {"name": "web", "containerPort": 8080},
                                {"containerPort": 9090, "protocol": "UDP"},
                            ],
                        },
                    ]
                },
            },
        },
    }
    # no container named like the Deployment: the first one is used
    k = _by_kind(render_manifests(_upir("api"), {}, workload=live))
    assert k["Deployment"]["spec"]["selector"] == live["spec"]["selector"]
    assert k["Deployment"]["spec"]["template"]["spec"]["containers"][0]["name"] == "sidecar"
    live2 = copy.deepcopy(live)
    live2["spec"]["template"]["spec"]["containers"][1]["name"] = "api-app"
    k = _by_kind(render_manifests(_upir("api"), {}, workload=live2))
    assert k["Deployment"]["spec"]["template"]["spec"]["containers"][0]["name"] == "api-app"
    assert k["Service"]["spec"]["ports"] == [
        {"name": "web", "port": 8080, "targetPort": "web", "protocol": "TCP"},
        {"name": "port-1", "port": 9090, "targetPort": 9090, "protocol": "UDP"},
    ]
    assert k["Service"]["spec"]["selector"] == {"app.kubernetes.io/name": "shop"}
    for m in k.values():
        kubernetes_validate.validate(m, K8S_VERSIONS[0], strict=True)
    wrong = copy.deepcopy(live)
    wrong["metadata"]["name"] = "other"
    with pytest.raises(PermanentError, match="target"):
        render_manifests(_upir("api"), {}, workload=wrong)
    with pytest.raises(PermanentError, match="selector"):
        render_manifests(_upir("api"), {}, workload={"metadata": {"name": "api-app"}})
    with pytest.raises(PermanentError, match="target.deployment"):
        render_manifests(_upir("api", target=False), {}, workload=live)


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"gateway.nope": 1}, "does not exist"),
        ({"nope.replicas": 1}, "does not exist"),
        ({"gateway.replicas": 9}, "outside its domain"),
        ({"gateway.timeout_ms": 255}, "outside its domain"),  # off the step grid
        ({"gateway.replicas": Fraction(5, 2)}, "whole number"),
        ({"fulfil.replicas": 0}, ">= 1"),
        ({"gateway.timeout_ms": float("nan")}, "finite"),
    ],
)
def test_bad_parameters_raise_permanent_error(params: dict[str, Any], needle: str) -> None:
    with pytest.raises(PermanentError, match=needle):
        render_manifests(_upir("api"), params)


def test_certificate_must_cover_the_rendered_values() -> None:
    u = _upir("api")
    key = generate_signing_key()
    verdicts = [{"property": p.name, "status": "PROVED"} for p in u.specification.all_properties()]
    cert = issue_certificate(
        u, verdicts, {}, key, solver_version="4", model_version="1", now=datetime.now(UTC)
    ).to_dict()
    render_manifests(u, {}, certificate=cert)  # covers the current values
    with pytest.raises(PermanentError, match="does not cover"):
        render_manifests(u, {"gateway.timeout_ms": 250}, certificate=cert)
    with pytest.raises(PermanentError, match="malformed"):
        render_manifests(u, {}, certificate={**cert, "payload": "{}"})
    with pytest.raises(PermanentError, match="envelope"):
        render_manifests(u, {}, certificate={"keyId": 1})


@pytest.mark.parametrize(
    "owner",
    [
        {"apiVersion": "v1", "kind": "UPIR", "name": "x"},
        {**OWNER, "uid": ""},
        {**OWNER, "controller": "yes"},
        {**OWNER, "extra": 1},
    ],
)
def test_malformed_owner_is_refused(owner: dict[str, Any]) -> None:
    with pytest.raises(PermanentError, match="ownerReference"):
        render_manifests(_upir("api"), {}, owner=owner)


def test_unusable_target_names_are_refused() -> None:
    u = _upir("api")
    # the schema refuses these too; the templates must not rely on it
    for target, field in [
        (Target(deployment="Not_A_Name"), "spec.target.deployment"),
        (Target(deployment="ok", config_map="-bad"), "spec.target.configMap"),
    ]:
        with pytest.raises(PermanentError, match=field):
            render_manifests(dataclasses.replace(u, target=target), {})
    with pytest.raises(PermanentError, match="no template"):
        render_manifests(dataclasses.replace(u, system_type="mainframe"), {})


def test_schema_check_is_not_vacuous() -> None:
    """The validation above would catch a wrong type or an unknown field."""
    dep = _by_kind(render_manifests(_upir("api", tunable_replicas=False), {}))["Deployment"]
    bad = copy.deepcopy(dep)
    bad["spec"]["replicas"] = "3"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[0], strict=True)
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["containers"][0]["envFromm"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[0], strict=True)


def test_live_reload_workloads_need_not_roll() -> None:
    u = _upir("api")
    a = _by_kind(render_manifests(u, {"gateway.timeout_ms": 250}, restart_on_change=False))
    b = _by_kind(render_manifests(u, {"gateway.timeout_ms": 260}, restart_on_change=False))
    # the pod template stays the same, so no rollout; the ConfigMap carries the change
    assert a["Deployment"]["spec"]["template"] == b["Deployment"]["spec"]["template"]
    assert ANN_PARAMS_HASH not in a["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert a["ConfigMap"]["data"] != b["ConfigMap"]["data"]


def test_reference_workload_renders_onto_its_deployment() -> None:
    """The example UPIR and Deployment of the reference workload fit together."""
    k8s = Path(__file__).resolve().parents[3] / "examples" / "reference-workload" / "k8s"
    if not (k8s / "upir.yaml").is_file():
        pytest.skip("reference workload manifests not present")
    u = UPIR.from_resource(yaml.safe_load((k8s / "upir.yaml").read_text()))
    live = yaml.safe_load((k8s / "deployment.yaml").read_text())
    ms = render_manifests(u, {}, workload=live, owner=OWNER, restart_on_change=False)
    k = _by_kind(ms)
    assert k["ConfigMap"]["metadata"]["name"] == u.target.config_map
    assert k["Deployment"]["spec"]["selector"] == live["spec"]["selector"]
    container = k["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == live["spec"]["template"]["spec"]["containers"][0]["name"]
    for m in ms:
        kubernetes_validate.validate(m, K8S_VERSIONS[0], strict=True)
