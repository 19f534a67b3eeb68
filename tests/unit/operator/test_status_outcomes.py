"""Status per mode and write outcome, change-only writes and the events that
go with them (issue 23), on real library objects (Z3, certificates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_operator.engine import Engine
from upir_operator.status import (
    Outcome,
    build_status,
    events_for,
    retry_reason,
    status_changes,
)

from upir.certificates import verify_certificate
from upir.resource import status_issues

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def body(timeout_ms: int = 300, retries: int = 2) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update({"namespace": "shop", "uid": "u-1", "generation": 4})
    doc["spec"]["architecture"]["components"][0]["params"].update(
        timeout_ms=timeout_ms, retries=retries
    )
    return doc


def ready(st: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in st["conditions"] if c["type"] == "Ready")


@pytest.mark.parametrize("mode", ["Off", "Recommend"])
def test_not_written_modes_recommend_and_apply_nothing(engine: Engine, mode: str) -> None:
    ev = engine.evaluate(body(800, 3), now=NOW)  # violated: synthesis proposes values
    assert ev.applied is not None
    st = build_status(ev, None, NOW, Outcome(mode=mode), name="checkout")
    assert status_issues(st) == []
    assert "appliedParameters" not in st and "certificate" not in st
    (rec,) = st["recommendations"]
    assert rec["source"] == "Synthesis"
    assert rec["parameters"] == {k: int(v) for k, v in ev.applied.tunable_values().items()}
    r = ready(st)
    assert r["status"] == "True"
    assert r["reason"] == ("Recommended" if mode == "Recommend" else "NotWritten")
    if mode == "Recommend":
        assert f"upir.dev/approve={rec['id']}" in r["message"] and "checkout" in r["message"]
    evs = events_for(ev, Outcome(mode=mode), {}, st)
    assert ("Normal", "Recommended") in [(t, why) for t, why, _ in evs]


def test_a_recheck_with_nothing_changed_writes_nothing(engine: Engine) -> None:
    first = engine.evaluate(body(), now=NOW)
    st = build_status(first, None, NOW, Outcome(mode="Auto", written=True))
    again = engine.evaluate(body(), now=LATER, previous_certificate=st["certificate"])
    # the same statement: the certificate is kept, signature and issuedAt included
    assert again.certificate is not None
    assert again.certificate.to_dict()["signature"] == st["certificate"]["signature"]
    new = build_status(again, st, LATER, Outcome(mode="Auto", written=True))
    assert new["lastVerifiedTime"] != st["lastVerifiedTime"]
    assert status_changes(st, new) == {}
    # a real change is written, with the time stamp that goes with it
    changed = engine.evaluate(body(310), now=LATER, previous_certificate=st["certificate"])
    assert changed.certificate is not None
    assert changed.certificate.to_dict()["signature"] != st["certificate"]["signature"]
    assert verify_certificate(changed.certificate.to_dict(), engine.key.public_key_raw()).valid
    delta = status_changes(st, build_status(changed, st, LATER, Outcome("Auto", written=True)))
    assert {"appliedParameters", "certificate", "lastVerifiedTime"} <= set(delta)


def test_a_field_conflict_is_the_ready_condition_and_one_event(engine: Engine) -> None:
    ev = engine.evaluate(body(), now=NOW)
    msg = 'Deployment checkout: ... .spec.replicas (owned by "argocd-controller")'
    out = Outcome(mode="Auto", failure="FieldConflict", failure_message=msg)
    st = build_status(ev, None, NOW, out)
    assert status_issues(st) == []
    r = ready(st)
    assert (r["status"], r["reason"], r["message"]) == ("False", "FieldConflict", msg)
    assert "appliedParameters" not in st
    assert ("Warning", "FieldConflict", msg) in events_for(ev, out, {}, st)
    # the same conflict on the next re-check: no new status, no new event
    again = build_status(engine.evaluate(body(), now=LATER), st, LATER, out)
    assert status_changes(st, again) == {}
    assert ("Warning", "FieldConflict", msg) not in events_for(ev, out, st, again)


def test_a_permanent_apply_failure_is_visible(engine: Engine) -> None:
    ev = engine.evaluate(body(), now=NOW)
    out = Outcome(mode="Auto", failure="ApplyFailed", failure_message="applying ConfigMap x: 422")
    st = build_status(ev, None, NOW, out)
    assert ready(st)["reason"] == "ApplyFailed" and st["message"].endswith("422")
    assert st["verdict"] == "PROVED"  # the proof stands; the write did not happen
    assert ("Warning", "ApplyFailed", "applying ConfigMap x: 422") in events_for(ev, out, {}, st)


def test_approval_outcomes_are_recorded(engine: Engine) -> None:
    ev = engine.evaluate(body(), now=NOW)
    done = build_status(ev, None, NOW, Outcome("Recommend", written=True, approval="a1"))
    assert done["lastApproval"]["id"] == "a1" and done["lastApproval"]["result"] == "Applied"
    assert done["appliedParameters"] and ready(done)["reason"] == "Applied"
    applied = [e for e in events_for(ev, Outcome("Recommend", True, approval="a1"), {}, done)]
    assert any(r == "Applied" and "approved a1" in m for _, r, m in applied)
    refused = Outcome("Recommend", approval="zz", approval_refusal="no recommendation 'zz'")
    st = build_status(ev, None, NOW, refused)
    assert st["lastApproval"]["result"] == "Refused" and status_issues(st) == []
    assert ("Warning", "ApprovalRefused", "no recommendation 'zz'") in events_for(
        ev, refused, {}, st
    )


def test_a_tuning_write_is_announced_once_with_its_cause(engine: Engine) -> None:
    ev = engine.evaluate(body(), now=NOW)
    out = Outcome(mode="Auto", written=True, cause=("RolledBack", "score regressed"))
    st = build_status(ev, None, NOW, out)
    evs = events_for(ev, out, {}, st)
    assert [(t, r) for t, r, _ in evs] == [("Normal", "RolledBack")]
    assert evs[0][2].startswith("score regressed: gateway.timeout_ms=300")


def test_only_a_time_out_with_nothing_proved_is_retried(engine: Engine) -> None:
    from dataclasses import replace
    from types import SimpleNamespace

    proved = engine.evaluate(body())
    assert proved.applied is not None and retry_reason(proved) is None
    violated = engine.evaluate(body(timeout_ms=1000, retries=3))
    assert violated.synthesis is not None and violated.applied is not None  # synthesized
    unproved = replace(violated, applied=None)
    for status, expect in (("UNSAT", None), ("PARTIAL", None), ("TIMEOUT", "out of time")):
        syn = SimpleNamespace(status=SimpleNamespace(value=status), explanation="out of time")
        why = retry_reason(replace(unproved, synthesis=syn))  # type: ignore[arg-type]
        assert (why is None) if expect is None else (why is not None and expect in why)
    # no synthesis (pinned, or nothing tunable): a verdict that ran out of time
    assert violated.report is not None
    late = tuple(replace(r, status=type(r.status)("TIMEOUT")) for r in violated.report.results)
    timed = replace(unproved, synthesis=None, report=replace(violated.report, results=late))
    assert (why := retry_reason(timed)) is not None and why.startswith("verification ran out")
    # UNKNOWN (undecided, or an ALWAYS proved only bounded) is the same on every try
    undecided = tuple(replace(r, status=type(r.status)("UNKNOWN")) for r in late)
    assert retry_reason(replace(timed, report=replace(violated.report, results=undecided))) is None
    # a violation next to the time-out is decided: nothing a retry changes
    mixed = (replace(late[0], status=type(late[0].status)("VIOLATED")),) + late[1:]
    assert retry_reason(replace(timed, report=replace(violated.report, results=mixed))) is None
    # an invalid spec is permanent
    assert retry_reason(replace(unproved, upir=None)) is None
