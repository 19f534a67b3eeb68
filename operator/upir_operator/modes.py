"""Which writes a reconciliation may make (DESIGN.md section 2), as pure functions.

``spec.tuning.mode`` gates every write to what the workload reads (its
Deployment, the parameters ConfigMap, any owned object it mounts):

- ``Off``: verify, synthesize; the proved parameters go to
  ``status.recommendations`` only;
- ``Recommend``: as Off, plus the tuning loop's proved proposals. A user
  approves one by annotating the UPIR with its id (``upir.dev/approve: <id>``);
  that one, and only that one, is applied, once (``status.lastApproval``
  records the id, so the annotation staying on the object changes nothing);
- ``Auto``: proved parameters are applied.

In every mode server-side apply runs without force, unless the UPIR carries
``upir.dev/force-apply: "true"`` (the documented opt-in to take fields from
another manager).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from upir.core.numbers import to_fraction

APPROVE_ANNOTATION = "upir.dev/approve"
"""Set to a recommendation's id (Recommend mode) to apply exactly that one."""

FORCE_ANNOTATION = "upir.dev/force-apply"
"""Set to "true" to let server-side apply take fields another manager owns."""

MODES = ("Off", "Recommend", "Auto")
DEFAULT_MODE = "Off"
"""The CRD's default for ``spec.tuning.mode``."""

MAX_RECOMMENDATIONS = 8
"""Recommendations kept in status, newest last (older ones drop off)."""


def _annotations(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return (body.get("metadata") or {}).get("annotations") or {}


def mode_of(body: Mapping[str, Any]) -> str:
    mode = ((body.get("spec") or {}).get("tuning") or {}).get("mode") or DEFAULT_MODE
    return str(mode)


def force_apply(body: Mapping[str, Any]) -> bool:
    return str(_annotations(body).get(FORCE_ANNOTATION, "")).lower() == "true"


def proposal_id(spec_hash: str, params: Mapping[str, Any]) -> str:
    """A short id, the same for the same parameters of the same spec (so a
    re-check recommends under the same id and status does not change)."""
    canon = {k: str(to_fraction(v)) for k, v in sorted(params.items())}
    raw = json.dumps({"spec": spec_hash, "parameters": canon}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:10]


def pending_approval(body: Mapping[str, Any], status: Mapping[str, Any]) -> str | None:
    """The approval annotation's id when it has not been handled yet."""
    wanted = str(_annotations(body).get(APPROVE_ANNOTATION, "")).strip()
    if not wanted:
        return None
    handled = (status.get("lastApproval") or {}).get("id")
    return None if handled == wanted else wanted


def recommended(status: Mapping[str, Any], rec_id: str) -> dict[str, Fraction] | None:
    for rec in status.get("recommendations") or ():
        if isinstance(rec, Mapping) and rec.get("id") == rec_id:
            params = rec.get("parameters") or {}
            return {str(k): to_fraction(v) for k, v in params.items()} or None
    return None


def with_recommendation(
    recs: Any, entry: Mapping[str, Any], limit: int = MAX_RECOMMENDATIONS
) -> list[dict[str, Any]]:
    """``entry`` added (newest last) unless its id is already listed, in which
    case the list is returned unchanged."""
    out = [dict(r) for r in recs or () if isinstance(r, Mapping)]
    if any(r.get("id") == entry["id"] for r in out):
        return out
    return [*out, dict(entry)][-limit:]


@dataclass(frozen=True, slots=True)
class WritePlan:
    """What one reconciliation may write."""

    mode: str
    write: bool
    """Apply the proved parameters to the cluster."""
    params: Mapping[str, Fraction] | None = None
    """The approved recommendation's parameters (verified again in full)."""
    approval: str | None = None
    """The approval id this pass handles (recorded in status.lastApproval)."""
    refusal: str | None = None
    """Why that approval is not carried out."""


def plan_write(body: Mapping[str, Any], status: Mapping[str, Any]) -> WritePlan:
    mode = mode_of(body)
    auto = mode == "Auto"
    pending = pending_approval(body, status)
    if pending is None:
        return WritePlan(mode, auto)
    if mode != "Recommend":
        why = f"mode is {mode}: approvals take effect in Recommend mode only"
        return WritePlan(mode, auto, approval=pending, refusal=why)
    params = recommended(status, pending)
    if params is None:
        why = f"no recommendation {pending!r} in status.recommendations"
        return WritePlan(mode, False, approval=pending, refusal=why)
    return WritePlan(mode, True, params=params, approval=pending)
