"""Evaluation -> the UPIR's status (pure; DESIGN.md section 2).

The status holds conditions (Valid, Verified, Synthesized, Ready; Tuning is
owned by the tuning loop), per-property verdicts with trimmed counterexamples,
the applied parameters and their certificate, and the printer-column summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from upir_operator.conditions import condition, merge_conditions, now_rfc3339
from upir_operator.engine import Evaluation, as_number, trim_counterexample


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


def build_status(
    ev: Evaluation, previous: Mapping[str, Any] | None, now: datetime | None = None
) -> dict[str, Any]:
    prev = previous or {}
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
        status.update(verdict="Invalid", message=message[:1024])
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

    if ev.applied is not None and ev.certificate is not None:
        status["verdict"] = "Proved"
        status["message"] = "applied parameters are proved"
        status["appliedParameters"] = {
            k: as_number(v) for k, v in ev.applied.tunable_values().items()
        }
        cert = ev.certificate.to_dict()
        status["certificate"] = {
            k: cert[k]
            for k in ("payload", "signature", "keyId", "algorithm", "publicKey")
            if k in cert
        }
        conds.append(condition("Ready", True, "Applied", "proved parameters applied", gen))
    else:
        violated = any(r.status.value == "VIOLATED" for r in ev.report.results)
        status["verdict"] = "Violated" if violated else "Unknown"
        status["message"] = ev.error or "no proved parameters to apply"
        conds.append(condition("Ready", False, "NoProvedParameters", status["message"], gen))
    status["verdicts"] = _verdicts(ev)
    status["conditions"] = merge_conditions(prev.get("conditions"), conds, now)
    return status
