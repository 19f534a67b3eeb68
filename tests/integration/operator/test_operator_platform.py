"""What a platform team checks before adopting the operator (issue 23), with
the real operator process against the API emulator, driven with kubectl:
writes gated by mode, approvals applied once, other managers' fields never
taken, Normal events visible, no status churn, apply failures visible."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
import yaml
from upir_e2e.procutil import free_port

pytestmark = pytest.mark.integration


def deployment(name: str, replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/app:1",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def apply(cluster: Any, ns: str, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "--validate=false", "-n", ns, "-f", "-", input=yaml.safe_dump(doc))


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


def reconciled(cluster: Any, name: str, ns: str, generation: int = 1) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = cluster.get("upir", name, ns)
        st = (obj or {}).get("status") or {}
        return obj if st.get("observedGeneration") == generation and cond(obj, "Ready") else None

    result: dict[str, Any] = cluster.wait_for(f"{name} reconciled", check, timeout=90)
    return result


def events(cluster: Any, ns: str, name: str) -> list[dict[str, Any]]:
    out = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))
    return [e for e in out["items"] if e.get("involvedObject", {}).get("name") == name]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text: str = resp.read().decode()
    return text


def reconciles(port: int) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in scrape(port).splitlines()
        if line.startswith("upir_reconciles_total")
    )


def reasons(cluster: Any, ns: str, name: str, type_: str | None = None) -> list[str]:
    return [
        str(e.get("reason"))
        for e in events(cluster, ns, name)
        if type_ is None or e.get("type") == type_
    ]


@pytest.mark.parametrize("mode", [None, "Recommend"], ids=["Off-by-default", "Recommend"])
def test_off_and_recommend_write_nothing_the_workload_reads(
    cluster: Any, namespace: str, operator_factory: Any, mode: str | None, gateway_doc: Any
) -> None:
    ns = namespace
    apply(cluster, ns, deployment("shop", replicas=3))
    before = cluster.get("deployment", "shop", ns)
    operator_factory()
    # replicas 1 in the spec and violated parameters: Auto would patch the
    # Deployment and write the ConfigMap; these modes must not
    doc = gateway_doc("shop", 800, 3, mode=mode, replicas=1, target={"deployment": "shop"})
    apply(cluster, ns, doc)
    obj = reconciled(cluster, "shop", ns)
    st = obj["status"]
    assert st["verdict"] == "PROVED"
    (rec,) = st["recommendations"]
    assert rec["source"] == "Synthesis" and "appliedParameters" not in st
    ready = cond(obj, "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == ("Recommended" if mode == "Recommend" else "NotWritten")
    if mode is None:  # the CRD's defaults, filled in by the API server
        assert obj["spec"]["tuning"] == {
            "mode": "Off",
            "intervalSeconds": 60,
            "maxStepFraction": 0.25,
        }
    time.sleep(8)  # the issue saw the Deployment rolled within 8 s
    after = cluster.get("deployment", "shop", ns)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 3
    assert cluster.get("configmap", "shop-params", ns) is None
    # the documented Normal event is visible with kubectl get events
    assert "Recommended" in reasons(cluster, ns, "shop", "Normal")
    # kubectl get up: the CRD's defaults and the READY column
    table = cluster.kubectl("get", "up", "shop", "-n", ns)
    header, row = table.strip().splitlines()
    assert header.split()[:3] == ["NAME", "VERDICT", "READY"]
    assert row.split()[:4] == ["shop", "PROVED", "True", mode or "Off"]


def test_approval_applies_exactly_the_approved_recommendation_once(
    cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any
) -> None:
    ns = namespace
    operator_factory(UPIR_RECHECK_SECONDS="2")
    apply(cluster, ns, gateway_doc("orders", 800, 3, mode="Recommend"))
    first = reconciled(cluster, "orders", ns)
    (synthesized,) = first["status"]["recommendations"]
    # a new spec whose own values are proved: a second, different recommendation
    apply(cluster, ns, gateway_doc("orders", 300, 2, mode="Recommend"))
    second = reconciled(cluster, "orders", ns, 2)
    recs = {r["id"]: r for r in second["status"]["recommendations"]}
    assert len(recs) == 2 and synthesized["id"] in recs
    assert cluster.get("configmap", "orders-params", ns) is None

    cluster.kubectl("annotate", "upir", "orders", "-n", ns, f"upir.dev/approve={synthesized['id']}")
    cm = cluster.wait_for(
        "the approved parameters written",
        lambda: cluster.get("configmap", "orders-params", ns),
    )
    approved = synthesized["parameters"]
    assert {k: cm["data"][k] for k in approved} == {k: str(v) for k, v in approved.items()}
    obj = cluster.wait_for(
        "approval recorded",
        lambda: (
            (o := cluster.get("upir", "orders", ns))
            and (o["status"].get("lastApproval") or {}).get("result") == "Applied"
            and o
        ),
    )
    assert obj["status"]["lastApproval"]["id"] == synthesized["id"]
    assert obj["status"]["appliedParameters"] == approved
    assert cond(obj, "Ready")["reason"] == "Applied"
    # once: re-checks every 2 s leave the ConfigMap alone and post no second Applied
    rv = cm["metadata"]["resourceVersion"]
    time.sleep(7)
    assert cluster.get("configmap", "orders-params", ns)["metadata"]["resourceVersion"] == rv
    assert reasons(cluster, ns, "orders", "Normal").count("Applied") == 1

    # an unknown id is refused, visibly, and nothing is written
    cluster.kubectl(
        "annotate", "upir", "orders", "-n", ns, "upir.dev/approve=0000000000", "--overwrite"
    )
    cluster.wait_for(
        "refusal recorded",
        lambda: (
            (
                (cluster.get("upir", "orders", ns) or {}).get("status", {}).get("lastApproval")
                or {}
            ).get("result")
            == "Refused"
        ),
    )
    assert "ApprovalRefused" in reasons(cluster, ns, "orders", "Warning")
    assert cluster.get("configmap", "orders-params", ns)["metadata"]["resourceVersion"] == rv


def test_another_managers_field_is_never_taken(
    cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any
) -> None:
    ns = namespace
    apply(cluster, ns, deployment("web", replicas=3))  # kubectl owns .spec.replicas
    operator_factory()
    apply(cluster, ns, gateway_doc("web", mode="Auto", replicas=1, target={"deployment": "web"}))
    obj = cluster.wait_for(
        "FieldConflict",
        lambda: (
            (o := cluster.get("upir", "web", ns))
            and cond(o, "Ready").get("reason") == "FieldConflict"
            and o
        ),
        timeout=90,
    )
    ready = cond(obj, "Ready")
    assert ready["status"] == "False"
    assert ".spec.replicas" in ready["message"]
    assert "kubectl-client-side-apply" in ready["message"]
    # only the field whose value would change: adding a volume mount to
    # kubectl's container takes nothing (containers merge by name)
    assert "containers" not in ready["message"], ready["message"]
    assert "upir.dev/force-apply" in ready["message"]
    dep = json.loads(
        cluster.kubectl("get", "deployment", "web", "-n", ns, "-o", "json", "--show-managed-fields")
    )
    assert dep["spec"]["replicas"] == 3
    owners = [
        m["manager"]
        for m in dep["metadata"]["managedFields"]
        if "f:replicas" in json.dumps(m.get("fieldsV1", {}))
    ]
    assert owners == ["kubectl-client-side-apply"], owners
    assert "FieldConflict" in reasons(cluster, ns, "web", "Warning")

    # the documented opt-in takes the fields
    cluster.kubectl("annotate", "upir", "web", "-n", ns, "upir.dev/force-apply=true")
    cluster.wait_for(
        "replicas taken after the opt-in",
        lambda: (cluster.get("deployment", "web", ns) or {}).get("spec", {}).get("replicas") == 1,
    )
    (container,) = cluster.get("deployment", "web", ns)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/app:1"  # the user's container kept
    assert container["volumeMounts"][0]["readOnly"] is True
    obj = cluster.wait_for(
        "Ready after the opt-in",
        lambda: (
            (o := cluster.get("upir", "web", ns))
            and cond(o, "Ready").get("reason") == "Applied"
            and o
        ),
    )
    assert "Applied" in reasons(cluster, ns, "web", "Normal")


def test_no_status_write_when_nothing_changed(
    cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any
) -> None:
    ns = namespace
    port = free_port()
    operator_factory(UPIR_RECHECK_SECONDS="2", UPIR_METRICS_PORT=str(port))
    apply(cluster, ns, gateway_doc("calm", mode="Auto"))
    obj = reconciled(cluster, "calm", ns)
    assert cond(obj, "Ready")["reason"] == "Applied"
    cluster.wait_for("ConfigMap", lambda: cluster.get("configmap", "calm-params", ns))
    time.sleep(1)
    rv = cluster.get("upir", "calm", ns)["metadata"]["resourceVersion"]
    cm_rv = cluster.get("configmap", "calm-params", ns)["metadata"]["resourceVersion"]
    checks = reconciles(port)
    time.sleep(8)  # at least three re-checks
    assert reconciles(port) >= checks + 3
    now = cluster.get("upir", "calm", ns)
    assert now["metadata"]["resourceVersion"] == rv, now["status"]
    assert cluster.get("configmap", "calm-params", ns)["metadata"]["resourceVersion"] == cm_rv
    assert now["status"]["certificate"] == obj["status"]["certificate"]


def test_a_permanent_apply_failure_is_a_condition_and_an_event(
    cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any
) -> None:
    ns = namespace
    frozen = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "frozen"},
        "data": {"note": "kept"},
        "immutable": True,
    }
    apply(cluster, ns, frozen)
    operator_factory()
    apply(cluster, ns, gateway_doc("stuck", mode="Auto", target={"configMap": "frozen"}))
    obj = cluster.wait_for(
        "ApplyFailed",
        lambda: (
            (o := cluster.get("upir", "stuck", ns))
            and cond(o, "Ready").get("reason") == "ApplyFailed"
            and o
        ),
        timeout=90,
    )
    ready = cond(obj, "Ready")
    assert (
        ready["status"] == "False" and "422" in ready["message"] and "immutable" in ready["message"]
    )
    assert obj["status"]["verdict"] == "PROVED"
    assert "ApplyFailed" in reasons(cluster, ns, "stuck", "Warning")
    assert cluster.get("configmap", "frozen", ns)["data"] == {"note": "kept"}


def series(port: int, name: str, **labels: str) -> dict[str, float]:
    """The samples of metric ``name`` whose labels include ``labels``."""
    out = {}
    for line in scrape(port).splitlines():
        if not line.startswith(name + "{"):
            continue
        key, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in key for k, v in labels.items()):
            out[key] = float(value)
    return out


def test_metrics_name_the_object_and_go_with_it(
    cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any
) -> None:
    ns = namespace
    port = free_port()
    operator_factory(UPIR_METRICS_PORT=str(port))
    apply(cluster, ns, gateway_doc("gone", mode="Auto"))
    apply(cluster, ns, gateway_doc("stays", 800, 3, mode="Off"))
    reconciled(cluster, "gone", ns)
    reconciled(cluster, "stays", ns)
    mine = {"namespace": ns, "upir": "gone", "property": "retry_budget"}
    verdicts = series(port, "upir_property_verdict", **mine)
    # a state set: one series per verdict, 1 for the current one
    assert verdicts[_key("upir_property_verdict", **mine, verdict="PROVED")] == 1.0
    assert verdicts[_key("upir_property_verdict", **mine, verdict="VIOLATED")] == 0.0
    assert len(verdicts) == 5
    assert series(port, "upir_reconciles_total", namespace=ns, upir="gone", outcome="applied")
    assert series(port, "upir_reconciles_total", namespace=ns, upir="stays", outcome="proved")
    assert series(port, "upir_parameter_value", namespace=ns, upir="gone")

    cluster.kubectl("delete", "upir", "gone", "-n", ns, "--wait=true", "--timeout=60s")
    cluster.wait_for(
        "the deleted UPIR's series removed",
        lambda: not any('upir="gone"' in line for line in scrape(port).splitlines()),
    )
    assert series(port, "upir_property_verdict", namespace=ns, upir="stays")


def _key(name: str, **labels: str) -> str:
    # the client library writes labels sorted by name
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}"
