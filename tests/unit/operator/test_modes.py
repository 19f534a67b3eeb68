"""Mode gating and approvals (issue 23), pure: which writes a reconciliation may
make, recommendation ids, and the status that records them."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from upir_operator.modes import (
    APPROVE_ANNOTATION,
    FORCE_ANNOTATION,
    MAX_RECOMMENDATIONS,
    force_apply,
    mode_of,
    pending_approval,
    plan_write,
    proposal_id,
    recommended,
    with_recommendation,
)


def body(mode: str | None = None, **annotations: str) -> dict[str, Any]:
    spec: dict[str, Any] = {} if mode is None else {"tuning": {"mode": mode}}
    return {"metadata": {"name": "x", "annotations": annotations}, "spec": spec}


REC = {"id": "abc123", "source": "Synthesis", "parameters": {"gateway.retries": 1}}


def test_mode_defaults_to_off_and_only_auto_writes() -> None:
    assert mode_of(body()) == "Off"
    assert not plan_write(body(), {}).write
    assert not plan_write(body("Off"), {}).write
    assert not plan_write(body("Recommend"), {}).write
    assert plan_write(body("Auto"), {}).write


def test_approval_applies_exactly_the_listed_recommendation_once() -> None:
    b = body("Recommend", **{APPROVE_ANNOTATION: "abc123"})
    status: dict[str, Any] = {"recommendations": [REC]}
    plan = plan_write(b, status)
    assert plan.write and plan.approval == "abc123" and plan.refusal is None
    assert plan.params == {"gateway.retries": Fraction(1)}
    # once handled (recorded in status.lastApproval), the annotation is inert
    status["lastApproval"] = {"id": "abc123", "result": "Applied"}
    assert pending_approval(b, status) is None
    assert not plan_write(b, status).write


def test_unknown_id_and_wrong_mode_are_refused_without_writing() -> None:
    unknown = plan_write(
        body("Recommend", **{APPROVE_ANNOTATION: "nope"}), {"recommendations": [REC]}
    )
    assert not unknown.write and unknown.refusal and "nope" in unknown.refusal
    off = plan_write(body("Off", **{APPROVE_ANNOTATION: "abc123"}), {"recommendations": [REC]})
    assert not off.write and off.refusal and "Recommend" in off.refusal
    # in Auto an approval changes nothing: Auto writes anyway
    auto = plan_write(body("Auto", **{APPROVE_ANNOTATION: "abc123"}), {"recommendations": [REC]})
    assert auto.write and auto.params is None and auto.refusal


def test_force_apply_is_opt_in() -> None:
    assert not force_apply(body("Auto"))
    assert not force_apply(body("Auto", **{FORCE_ANNOTATION: "yes"}))
    assert force_apply(body("Auto", **{FORCE_ANNOTATION: "True"}))


def test_ids_are_stable_and_distinguish_specs_and_values() -> None:
    a = proposal_id("h1", {"gateway.retries": 1, "gateway.timeout_ms": 300})
    assert a == proposal_id("h1", {"gateway.timeout_ms": Fraction(300), "gateway.retries": 1.0})
    assert a != proposal_id("h2", {"gateway.retries": 1, "gateway.timeout_ms": 300})
    assert a != proposal_id("h1", {"gateway.retries": 2, "gateway.timeout_ms": 300})
    assert len(a) == 10


def test_recommendation_list_is_deduplicated_and_bounded() -> None:
    recs: list[dict[str, Any]] = []
    for i in range(MAX_RECOMMENDATIONS + 3):
        recs = with_recommendation(recs, {"id": f"r{i}", "parameters": {"a.b": i}})
    assert len(recs) == MAX_RECOMMENDATIONS and recs[-1]["id"] == f"r{MAX_RECOMMENDATIONS + 2}"
    again = with_recommendation(recs, {"id": recs[0]["id"], "parameters": {"a.b": 99}})
    assert again == recs  # same id: unchanged (its time is not refreshed)
    assert recommended({"recommendations": recs}, "r5") == {"a.b": Fraction(5)}
    assert recommended({"recommendations": recs}, "zzz") is None
