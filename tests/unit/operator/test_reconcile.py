"""``handlers.reconcile`` with the real engine (Z3, certificates, templates) and
a recording Kube (issue 23): which writes each mode makes, with or without
force, what a conflict or a refused write leaves in status, and approvals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_operator.engine import Engine
from upir_operator.handlers import Runtime, reconcile
from upir_operator.kube import Conflict, FieldConflict, KubeError
from upir_operator.modes import APPROVE_ANNOTATION, FORCE_ANNOTATION
from upir_operator.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[3]


class RecordingKube:
    def __init__(self, fail: Exception | None = None) -> None:
        self.applied: list[tuple[str, bool]] = []
        self.fail = fail

    async def get(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        return None  # the target Deployment does not exist: only the ConfigMap

    async def apply(self, manifest: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.applied.append((manifest["kind"], force))
        return dict(manifest)


def body(mode: str | None, timeout_ms: int = 300, **annotations: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    doc["metadata"].update(
        {"namespace": "shop", "uid": "u-1", "generation": 1, "annotations": annotations}
    )
    doc["spec"]["architecture"]["components"][0]["params"]["timeout_ms"] = timeout_ms
    doc["spec"].pop("target", None)
    doc["spec"]["tuning"] = {} if mode is None else {"mode": mode}
    return doc


def run(engine: Engine, kube: RecordingKube, doc: dict[str, Any]) -> tuple[Any, Any, Any]:
    runtime = Runtime(OperatorSettings(), engine, kube)  # type: ignore[arg-type]
    return asyncio.run(reconcile(runtime, doc))


@pytest.mark.parametrize("mode", [None, "Off", "Recommend"])
def test_off_and_recommend_never_write(engine: Engine, posted: list[Any], mode: str | None) -> None:
    kube = RecordingKube()
    ev, outcome, changes = run(engine, kube, body(mode))
    assert ev.applied is not None and kube.applied == []
    assert not outcome.written and changes["recommendations"]
    assert "appliedParameters" not in changes


def test_auto_applies_without_force_unless_opted_in(engine: Engine, posted: list[Any]) -> None:
    kube = RecordingKube()
    _, outcome, changes = run(engine, kube, body("Auto"))
    assert outcome.written and kube.applied == [("ConfigMap", False)]
    assert changes["appliedParameters"]
    assert ("Normal", "Applied") in [(t, r) for t, r, _ in posted]
    forced = RecordingKube()
    run(engine, forced, body("Auto", **{FORCE_ANNOTATION: "true"}))
    assert forced.applied == [("ConfigMap", True)]


def test_conflict_and_refusal_become_status(engine: Engine, posted: list[Any]) -> None:
    conflict = FieldConflict("409", (Conflict(".data.x", "helm"),))
    _, outcome, changes = run(engine, RecordingKube(fail=conflict), body("Auto"))
    ready = next(c for c in changes["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "FieldConflict" and '.data.x (owned by "helm")' in ready["message"]
    refused = KubeError("PATCH: 422: immutable", temporary=False, status=422)
    _, outcome, changes = run(engine, RecordingKube(fail=refused), body("Auto"))
    ready = next(c for c in changes["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ApplyFailed" and "422" in ready["message"]
    assert {r for _, r, _ in posted} >= {"FieldConflict", "ApplyFailed"}


def test_an_approval_that_no_longer_fits_the_spec_is_refused_once(
    engine: Engine, posted: list[Any]
) -> None:
    doc = body("Recommend", **{APPROVE_ANNOTATION: "old1"})
    doc["status"] = {
        "recommendations": [
            {"id": "old1", "source": "Tuning", "parameters": {"gone.param": 3}},
        ]
    }
    kube = RecordingKube()
    _, outcome, changes = run(engine, kube, doc)
    assert kube.applied == []
    assert changes["lastApproval"]["id"] == "old1"
    assert changes["lastApproval"]["result"] == "Refused"
    assert "does not fit the current spec" in changes["lastApproval"]["message"]
    # handled: the same annotation does nothing the next time
    doc["status"] = {**doc["status"], **changes}
    _, outcome, _ = run(engine, kube, doc)
    assert outcome.approval is None and kube.applied == []


def test_an_approval_is_applied_once_even_before_its_status_arrives(
    engine: Engine, posted: list[Any]
) -> None:
    """Two handlers (the annotation handler and the re-check timer) can run on
    the same, not yet updated, body: the second must not apply it again."""
    first = RecordingKube()
    runtime = Runtime(OperatorSettings(), engine, first)  # type: ignore[arg-type]
    doc = body("Recommend")
    _, _, changes = asyncio.run(reconcile(runtime, doc))
    (rec,) = changes["recommendations"]
    doc["status"] = changes
    doc["metadata"]["annotations"] = {APPROVE_ANNOTATION: rec["id"]}

    async def both() -> list[Any]:
        return list(await asyncio.gather(reconcile(runtime, doc), reconcile(runtime, doc)))

    (_, a, _), (_, b, later) = asyncio.run(both())
    assert first.applied == [("ConfigMap", False)]
    assert [a.approval, b.approval] == [rec["id"], None]
    assert [r for _, r, _ in posted].count("Applied") == 1
    # nor does the second undo what the first wrote (Ready stays Applied)
    assert "conditions" not in later and "appliedParameters" not in later
