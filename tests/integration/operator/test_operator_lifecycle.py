"""The real operator process, the emulated API, kubectl: the whole reconcile
lifecycle of issue 7 (apply, verify, certificate, owned ConfigMap, spec change,
synthesis, a malformed neighbour, restart, delete)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def reconciled(cluster: Any, name: str, ns: str, generation: int) -> Any:
    def check() -> dict[str, Any] | None:
        obj = cluster.get("upir", name, ns)
        st = (obj or {}).get("status") or {}
        return obj if st.get("observedGeneration") == generation and cond(obj, "Ready") else None

    return cluster.wait_for(f"{name} generation {generation} reconciled", check, timeout=90)


def test_lifecycle(cluster: Any, namespace: str, operator_factory: Any, gateway_doc: Any) -> None:
    # Auto: proved parameters are written (Off and Recommend write nothing the
    # workload reads; test_operator_platform covers those)

    def upir_doc(name: str, timeout_ms: int, retries: int, *, tunable: bool = True) -> Any:
        return gateway_doc(name, timeout_ms, retries, mode="Auto", tunable=tunable)

    ns = namespace
    op = operator_factory()
    cluster.kubectl(
        "apply",
        "--validate=false",
        "-n",
        ns,
        "-f",
        "-",
        input=yaml.safe_dump(upir_doc("good", 300, 2)),
    )
    obj = reconciled(cluster, "good", ns, 1)
    st = obj["status"]
    assert cond(obj, "Valid")["status"] == "True"
    assert cond(obj, "Verified")["status"] == "True", st
    assert cond(obj, "Ready")["status"] == "True"
    assert all(c["observedGeneration"] == 1 for c in st["conditions"])
    assert [v["status"] for v in st["verdicts"]] == ["PROVED"]
    assert st["verdict"] == "PROVED"
    assert st["appliedParameters"] == {"gateway.timeout_ms": 300, "gateway.retries": 2}
    cert = st["certificate"]
    assert cert["algorithm"] == "Ed25519" and cert["signature"]
    payload = json.loads(cert["payload"])
    assert payload["parameters"]
    # the ConfigMap is created and owned by the UPIR
    cm = cluster.wait_for("params ConfigMap", lambda: cluster.get("configmap", "good-params", ns))
    owners = cm["metadata"].get("ownerReferences") or []
    assert owners and owners[0]["uid"] == obj["metadata"]["uid"] and owners[0]["kind"] == "UPIR"
    assert cm["data"]["gateway.timeout_ms"] == "300"

    # a malformed neighbour is reported and disturbs nothing
    bad = upir_doc("broken", 300, 2)
    bad["spec"]["specification"]["properties"][0]["predicate"] = (
        "__import__('os').system('true') == 0"
    )
    cluster.kubectl("apply", "--validate=false", "-n", ns, "-f", "-", input=yaml.safe_dump(bad))
    broken = cluster.wait_for(
        "broken Valid=False",
        lambda: (o := cluster.get("upir", "broken", ns)) and cond(o, "Valid") and o,
    )
    assert cond(broken, "Valid")["status"] == "False"
    assert "spec.specification.properties[0].predicate" in cond(broken, "Valid")["message"]
    assert broken["status"]["verdict"] == "INVALID"
    assert cluster.get("configmap", "broken-params", ns) is None

    # changing the spec re-verifies and re-applies
    cluster.kubectl(
        "patch",
        "upir",
        "good",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        json.dumps(
            {
                "spec": {
                    "architecture": {
                        "components": [
                            {
                                "name": "gateway",
                                "type": "service",
                                "params": {
                                    "replicas": 2,
                                    "concurrency": 4,
                                    "timeout_ms": 310,
                                    "retries": 2,
                                },
                            }
                        ]
                    }
                }
            }
        ),
    )
    obj = reconciled(cluster, "good", ns, 2)
    assert obj["status"]["appliedParameters"]["gateway.timeout_ms"] == 310
    cluster.wait_for(
        "ConfigMap updated",
        lambda: (
            (cluster.get("configmap", "good-params", ns) or {})
            .get("data", {})
            .get("gateway.timeout_ms")
            == "310"
        ),
    )
    assert cond(cluster.get("upir", "good", ns), "Ready")["status"] == "True"

    # violating parameters get synthesized, proved values
    cluster.kubectl(
        "apply",
        "--validate=false",
        "-n",
        ns,
        "-f",
        "-",
        input=yaml.safe_dump(upir_doc("fixme", 800, 3)),
    )
    fixed = reconciled(cluster, "fixme", ns, 1)
    assert cond(fixed, "Verified")["status"] == "False"
    assert cond(fixed, "Synthesized")["status"] == "True", fixed["status"]
    applied = fixed["status"]["appliedParameters"]
    assert applied["gateway.timeout_ms"] * (applied["gateway.retries"] + 1) <= 2000
    assert [v["status"] for v in fixed["status"]["verdicts"]] == ["PROVED"]
    cm = cluster.wait_for("fixme ConfigMap", lambda: cluster.get("configmap", "fixme-params", ns))
    assert int(cm["data"]["gateway.timeout_ms"]) == applied["gateway.timeout_ms"]

    # violating and pinned (no tunable parameters): reported, nothing applied
    cluster.kubectl(
        "apply",
        "--validate=false",
        "-n",
        ns,
        "-f",
        "-",
        input=yaml.safe_dump(upir_doc("stuck", 800, 3, tunable=False)),
    )
    stuck = reconciled(cluster, "stuck", ns, 1)
    assert cond(stuck, "Ready")["status"] == "False"
    verdict = stuck["status"]["verdicts"][0]
    assert verdict["status"] == "VIOLATED" and verdict["counterexample"]
    assert cluster.get("configmap", "stuck-params", ns) is None

    # restart: the new operator resumes without re-doing handled generations
    op.stop()
    operator_factory()
    cluster.kubectl(
        "patch",
        "upir",
        "good",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        json.dumps(
            {
                "spec": {
                    "architecture": {
                        "components": [
                            {
                                "name": "gateway",
                                "type": "service",
                                "params": {
                                    "replicas": 2,
                                    "concurrency": 4,
                                    "timeout_ms": 320,
                                    "retries": 2,
                                },
                            }
                        ]
                    }
                }
            }
        ),
    )
    obj = reconciled(cluster, "good", ns, 3)
    assert obj["status"]["appliedParameters"]["gateway.timeout_ms"] == 320

    # delete: the owned ConfigMap goes with the UPIR
    cluster.kubectl("delete", "upir", "good", "-n", ns, "--wait=true", "--timeout=60s")
    cluster.wait_for(
        "ConfigMap garbage-collected", lambda: cluster.get("configmap", "good-params", ns) is None
    )
    assert cluster.get("configmap", "fixme-params", ns) is not None
