"""Evaluation -> the UPIR's status and events (pure; DESIGN.md section 2).

The status holds conditions (Valid, Verified, Synthesized, Ready; Tuning is
owned by the tuning loop), per-property verdicts with trimmed counterexamples,
the applied parameters and their certificate, the recommendations (proved
parameters not written, by id), the last handled approval, and the
printer-column summary. :func:`status_changes` keeps only what changed, so a
re-check with nothing new writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from upir_operator.conditions import condition, get_condition, merge_conditions, now_rfc3339
from upir_operator.engine import Evaluation, as_number, trim_counterexample
from upir_operator.modes import APPROVE_ANNOTATION, proposal_id, with_recommendation

VOLATILE = frozenset({"lastVerifiedTime"})
"""Status keys that change on every verification: written only along with a real change."""
VOLATILE_VERDICT_KEYS = frozenset({"timeMs", "cached"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the reconciliation did with the evaluation."""

    mode: str = "Auto"
    written: bool = False
    """The rendered manifests were applied in this pass."""
    failure: str | None = None
    """``FieldConflict`` or ``ApplyFailed`` when applying was refused."""
    failure_message: str = ""
    approval: str | None = None
    """The approval id handled in this pass."""
    approval_refusal: str | None = None
    cause: tuple[str, str] = ("Applied", "applied proved parameters")
    """Reason and message of the event for a write (a tuning step, a roll-back)."""


def _verdicts(ev: Evaluation) -> list[dict[str, Any]]:
    report = ev.applied_report or ev.report
    if report is None:
        return []
    out = []
    for r in report.results:
        cex = trim_counterexample(r.counterexample.to_json() if r.counterexample else None)
        item: dict[str, Any] = {
            "property": r.property.name,
            "kind": r.property.kind,
            "status": r.status.value,
            "proof": r.proof or "",
            "timeMs": round(r.time_ms, 3),
            "cached": bool(r.cached),
        }
        if cex:
            item["counterexample"] = cex
        if r.message:
            item["message"] = r.message[:512]
        out.append(item)
    return out


def _summary(report: Any) -> str:
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def retry_reason(ev: Evaluation) -> str | None:
    """Why evaluating ``ev``'s object again may decide what this evaluation could
    not, or None: nothing proved is applied and a solver ran out of time (the
    synthesis, or, where none ran, a verdict). Time-outs are temporary; VIOLATED,
    UNSAT, UNKNOWN (Z3 could not decide, or an ALWAYS proved only bounded: the same
    query decides the same way) or an invalid spec are not, and wait for a change
    of the spec."""
    if not ev.valid or ev.report is None or ev.applied is not None:
        return None
    syn = ev.synthesis
    if syn is not None:
        if syn.status.value == "TIMEOUT":
            return f"synthesis ran out of time: {syn.explanation or 'TIMEOUT'}"[:300]
        return None
    late = [r.property.name for r in ev.report.results if r.status.value == "TIMEOUT"]
    if late and summary_verdict(ev) == "TIMEOUT":
        return "verification ran out of time on " + ", ".join(late[:5])
    return None


def summary_verdict(ev: Evaluation) -> str:
    """The printer column: PROVED when there are proved parameters, else the
    worst verdict among the properties, spelled as the verdicts are."""
    if not ev.valid or ev.report is None:
        return "INVALID"
    if ev.applied is not None:
        return "PROVED"
    statuses = {r.status.value for r in ev.report.results}
    for verdict in ("VIOLATED", "ERROR", "TIMEOUT"):
        if verdict in statuses:
            return verdict
    return "UNKNOWN"


def build_status(
    ev: Evaluation,
    previous: Mapping[str, Any] | None,
    now: datetime | None = None,
    outcome: Outcome | None = None,
    name: str = "",
) -> dict[str, Any]:
    """The full status for ``ev``. ``outcome`` (default: written in Auto mode)
    says whether the manifests were applied; ``name`` goes into the approval
    hint."""
    prev = previous or {}
    out = outcome or Outcome(written=ev.applied is not None)
    gen = ev.generation
    conds: list[dict[str, Any]] = []
    status: dict[str, Any] = {"observedGeneration": gen}
    if not ev.valid:
        message = "; ".join(str(i) for i in ev.issues)
        conds += [
            condition("Valid", False, "InvalidSpec", message, gen),
            condition("Verified", None, "NotVerified", "the spec is invalid", gen),
            condition("Ready", False, "InvalidSpec", "fix the spec: " + message, gen),
        ]
        status.update(verdict="INVALID", message=message[:1024])
        status["conditions"] = merge_conditions(prev.get("conditions"), conds, now)
        return status

    assert ev.upir is not None and ev.report is not None
    conds.append(condition("Valid", True, "SpecValid", "the spec is valid", gen))
    status["specHash"] = ev.upir.spec_hash()
    status["lastVerifiedTime"] = now_rfc3339(now)
    if ev.report.passed:
        conds.append(condition("Verified", True, "AllProved", _summary(ev.report), gen))
        conds.append(
            condition("Synthesized", False, "NotNeeded", "current parameters are proved", gen)
        )
    else:
        conds.append(condition("Verified", False, "NotProved", _summary(ev.report), gen))
        syn = ev.synthesis
        if ev.pinned:
            conds.append(condition("Synthesized", False, "Pinned", "parameters are pinned", gen))
        elif syn is None:
            conds.append(
                condition(
                    "Synthesized",
                    False,
                    "NoTunableParameters",
                    "spec.parameters is empty: nothing to synthesize",
                    gen,
                )
            )
        elif ev.applied is not None:
            conds.append(
                condition(
                    "Synthesized",
                    True,
                    "Synthesized",
                    f"proved parameters found in {syn.iterations} CEGIS iterations",
                    gen,
                )
            )
        else:
            reason = {"UNSAT": "Unsatisfiable", "PARTIAL": "Partial", "TIMEOUT": "Timeout"}.get(
                syn.status.value, "Failed"
            )
            conds.append(
                condition("Synthesized", False, reason, syn.explanation or syn.status.value, gen)
            )

    status["verdict"] = summary_verdict(ev)
    if ev.applied is not None and ev.certificate is not None:
        proved = {k: as_number(v) for k, v in ev.applied.tunable_values().items()}
        if out.failure is not None:
            status["message"] = out.failure_message[:1024]
            conds.append(condition("Ready", False, out.failure, out.failure_message, gen))
        elif out.written:
            status["message"] = "applied parameters are proved"
            status["appliedParameters"] = proved
            cert = ev.certificate.to_dict()
            status["certificate"] = {
                k: cert[k]
                for k in ("payload", "signature", "keyId", "algorithm", "publicKey")
                if k in cert
            }
            conds.append(condition("Ready", True, "Applied", "proved parameters applied", gen))
        elif prev.get("appliedParameters") == proved:
            status["message"] = "applied parameters are proved"
            conds.append(condition("Ready", True, "Applied", "proved parameters applied", gen))
        else:
            rid = proposal_id(ev.upir.spec_hash(), proved)
            source = "Synthesis" if ev.synthesis is not None else "Verification"
            status["recommendations"] = with_recommendation(
                prev.get("recommendations"),
                {
                    "id": rid,
                    "source": source,
                    "parameters": proved,
                    "time": now_rfc3339(now),
                    "message": f"proved by {source.lower()}; not written (mode {out.mode})",
                },
            )
            if out.mode == "Recommend":
                msg = (
                    f"proved parameters recommended as {rid}; approve with: kubectl annotate "
                    f"upir {name or '<name>'} {APPROVE_ANNOTATION}={rid} --overwrite"
                )
                conds.append(condition("Ready", True, "Recommended", msg, gen))
            else:
                msg = f"mode {out.mode}: proved parameters {rid} are in status; nothing is written"
                conds.append(condition("Ready", True, "NotWritten", msg, gen))
            status["message"] = msg[:1024]
    else:
        status["message"] = ev.error or "no proved parameters to apply"
        conds.append(condition("Ready", False, "NoProvedParameters", status["message"], gen))
    if out.approval is not None:
        result = (
            "Refused"
            if out.approval_refusal
            else ("Applied" if out.written else ("Failed" if out.failure else "NotProved"))
        )
        status["lastApproval"] = {
            "id": out.approval,
            "result": result,
            "time": now_rfc3339(now),
            "message": (out.approval_refusal or out.failure_message or status["message"])[:1024],
        }
    status["verdicts"] = _verdicts(ev)
    status["conditions"] = merge_conditions(prev.get("conditions"), conds, now)
    return status


def _essence(key: str, value: Any) -> Any:
    if key in VOLATILE:
        return None
    if key == "verdicts" and isinstance(value, list):
        return [
            {k: v for k, v in item.items() if k not in VOLATILE_VERDICT_KEYS}
            if isinstance(item, Mapping)
            else item
            for item in value
        ]
    return value


def status_changes(previous: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``new`` that differ from ``previous`` (a merge patch), or {}
    when nothing but verification timings and time stamps changed."""
    prev = previous or {}
    changed = {k: v for k, v in new.items() if _essence(k, v) != _essence(k, prev.get(k))}
    if changed:
        for key in VOLATILE:
            if key in new:
                changed[key] = new[key]
    return changed


def events_for(
    ev: Evaluation, outcome: Outcome, previous: Mapping[str, Any], new: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """(type, reason, message) to post for a status change from ``previous``
    to ``new`` (the caller posts nothing when status did not change)."""
    if not ev.valid:
        return [("Warning", "InvalidSpec", "; ".join(str(i) for i in ev.issues))]
    assert ev.report is not None
    out: list[tuple[str, str, str]] = []
    if _essence("verdicts", new.get("verdicts")) != _essence("verdicts", previous.get("verdicts")):
        for r in ev.report.results:
            if not r.status.passed:
                out.append(("Warning", "PropertyNotProved", f"{r.property.name}: {r.status.value}"))
    if ev.synthesis is not None and new.get("observedGeneration") != previous.get(
        "observedGeneration"
    ):
        msg = f"synthesis {ev.synthesis.status.value}: {ev.synthesis.explanation or ''}"
        out.append(("Normal" if ev.applied is not None else "Warning", "Synthesis", msg))
    ready = get_condition(new.get("conditions"), "Ready") or {}
    old_ready = get_condition(previous.get("conditions"), "Ready") or {}
    ready_changed = (ready.get("reason"), ready.get("message")) != (
        old_ready.get("reason"),
        old_ready.get("message"),
    )
    if outcome.written and ev.applied is not None and "appliedParameters" in new:
        params = ", ".join(f"{k}={v}" for k, v in new["appliedParameters"].items())
        via = f" (approved {outcome.approval})" if outcome.approval and outcome.written else ""
        if new.get("appliedParameters") != previous.get("appliedParameters") or via:
            reason, what = outcome.cause
            out.append(("Normal", reason, f"{what}{via}: {params}"))
    elif outcome.failure is not None and ready_changed:
        out.append(("Warning", outcome.failure, outcome.failure_message))
    elif ready.get("reason") in ("Recommended", "NotWritten") and ready_changed:
        out.append(("Normal", "Recommended", str(ready.get("message", ""))))
    elif ev.applied is None and ev.error and ready_changed:
        out.append(("Warning", "NotApplied", ev.error))
    if outcome.approval_refusal:
        out.append(("Warning", "ApprovalRefused", outcome.approval_refusal))
    elif outcome.approval and not outcome.written and outcome.failure is None:
        out.append(("Warning", "ApprovalRefused", f"{outcome.approval}: no longer proved"))
    return out
