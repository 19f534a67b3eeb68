"""Engine + status builder on real library objects (Z3 verifier, certificates,
templates); no cluster. Every status written must fit the CRD's status schema
(a real API server silently drops undeclared fields)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from upir_operator.engine import PIN_ANNOTATION, Engine, trim_counterexample
from upir_operator.status import build_status

from upir.certificates import verify_certificate
from upir.resource import status_issues

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def body(timeout_ms: int = 300, retries: int = 2, **meta: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 4, **meta})
    doc["spec"]["architecture"]["components"][0]["params"].update(
        timeout_ms=timeout_ms, retries=retries
    )
    return doc


def test_proved_spec_is_applied_with_a_valid_certificate(engine: Engine) -> None:
    ev = engine.evaluate(body(), now=NOW)
    assert ev.valid and ev.report is not None and ev.report.passed
    assert ev.synthesis is None and ev.applied is not None
    st = build_status(ev, None, NOW)
    assert status_issues(st) == []
    assert st["verdict"] == "PROVED" and st["observedGeneration"] == 4
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Valid": "True",
        "Verified": "True",
        "Synthesized": "False",
        "Ready": "True",
    }
    assert st["appliedParameters"] == {
        "gateway.timeout_ms": 300,
        "gateway.retries": 2,
        "orders.capacity": 5000,
    }
    check = verify_certificate(st["certificate"], engine.key.public_key_raw())
    assert check.valid and check.trusted
    kinds = [m["kind"] for m in ev.manifests]
    # the target Deployment does not exist (no workload given): only the ConfigMap
    assert kinds == ["ConfigMap"]
    assert ev.manifests[0]["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_target_deployment_gets_patch_service_pdb(engine: Engine) -> None:
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "x",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }
    ev = engine.evaluate(body(), workload=live, now=NOW)
    kinds = [m["kind"] for m in ev.manifests]
    assert kinds[:2] == ["ConfigMap", "Deployment"] and "Service" in kinds
    deployment = ev.manifests[1]
    assert (
        "ownerReferences" not in deployment["metadata"]
    )  # the user's object is patched, never owned


def test_violated_spec_is_synthesized_and_the_result_proved(engine: Engine) -> None:
    ev = engine.evaluate(body(timeout_ms=800, retries=3), now=NOW)
    assert ev.report is not None and not ev.report.passed
    assert ev.synthesis is not None and ev.applied is not None and ev.applied_report is not None
    assert ev.applied_report.passed
    t, r = (
        ev.applied.tunable_values()["gateway.timeout_ms"],
        ev.applied.tunable_values()["gateway.retries"],
    )
    assert t * (r + 1) <= 2000
    st = build_status(ev, None, NOW)
    assert status_issues(st) == []
    assert {c["type"]: c["status"] for c in st["conditions"]}["Synthesized"] == "True"


def test_pinned_violation_is_reported_not_applied(engine: Engine) -> None:
    b = body(timeout_ms=800, retries=3)
    b["metadata"]["annotations"] = {PIN_ANNOTATION: "true"}
    ev = engine.evaluate(b, now=NOW)
    assert ev.synthesis is None and ev.applied is None and ev.manifests == ()
    st = build_status(ev, None, NOW)
    assert status_issues(st) == []
    assert st["verdict"] == "VIOLATED"
    cond = {c["type"]: c for c in st["conditions"]}
    assert cond["Synthesized"]["reason"] == "Pinned" and cond["Ready"]["status"] == "False"
    bad = [v for v in st["verdicts"] if v["status"] == "VIOLATED"]
    assert bad and all("counterexample" in v for v in bad)


def test_invalid_spec_status(engine: Engine) -> None:
    b = body()
    b["spec"]["parameters"][0]["min"] = 99999
    ev = engine.evaluate(b, now=NOW)
    assert not ev.valid and ev.manifests == ()
    st = build_status(ev, None, NOW)
    assert status_issues(st) == []
    assert st["verdict"] == "INVALID"
    valid = next(c for c in st["conditions"] if c["type"] == "Valid")
    assert valid["status"] == "False" and "spec.parameters[0].min" in valid["message"]


def test_applying_given_parameters_never_applies_unproved_ones(engine: Engine) -> None:
    from fractions import Fraction

    ok = engine.evaluate(body(), params={"gateway.timeout_ms": Fraction(310)}, now=NOW)
    assert ok.applied is not None and ok.applied.tunable_values()["gateway.timeout_ms"] == 310
    bad = engine.evaluate(
        body(), params={"gateway.timeout_ms": Fraction(1000)}, now=NOW
    )  # 1000 * 3 > 2000
    assert bad.applied is None and bad.synthesis is None and bad.manifests == ()


def test_counterexample_trimming() -> None:
    cex = {
        "violatedAt": 9,
        "env": [{"a": 1}] * 10,
        "trace": [{"x": i} for i in range(10)],
        "exact": {"big": 1},
    }
    out = trim_counterexample(copy.deepcopy(cex))
    assert (
        out is not None
        and len(out["trace"]) == 4
        and out["traceTruncated"] == 10
        and "exact" not in out
    )
