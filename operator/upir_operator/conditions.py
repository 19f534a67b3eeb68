"""Status conditions in the Kubernetes ``metav1.Condition`` shape (pure functions).

Types: Valid, Verified, Synthesized, Tuning, Conformant (live observations
against the proofs, :mod:`upir_operator.conformance`), Ready. Reasons are CamelCase.
``lastTransitionTime`` changes only when a condition's status changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

CONDITION_TYPES = ("Valid", "Verified", "Synthesized", "Tuning", "Conformant", "Ready")
MAX_MESSAGE = 1024
"""Longest condition message, characters (the API server limit is 32768; status
stays small)."""

_REASON = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def now_rfc3339(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: str, status: bool | None, reason: str, message: str, generation: int | None
) -> dict[str, Any]:
    """One condition; ``status`` None means Unknown."""
    if type_ not in CONDITION_TYPES:
        raise ValueError(f"unknown condition type {type_!r}")
    if not _REASON.match(reason):
        raise ValueError(f"condition reason must be CamelCase, got {reason!r}")
    text = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
    return {
        "type": type_,
        "status": "Unknown" if status is None else ("True" if status else "False"),
        "reason": reason,
        "message": text,
        "observedGeneration": generation,
    }


def merge_conditions(
    previous: Iterable[Mapping[str, Any]] | None,
    updates: Iterable[Mapping[str, Any]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Apply ``updates`` over ``previous``: keep ``lastTransitionTime`` when the
    status did not change, set it to ``now`` when it did; keep the order of
    CONDITION_TYPES."""
    by_type = {str(c.get("type")): dict(c) for c in previous or () if isinstance(c, Mapping)}
    stamp = now_rfc3339(now)
    for upd in updates:
        old = by_type.get(str(upd["type"]))
        new = dict(upd)
        if old is not None and old.get("status") == new["status"] and old.get("lastTransitionTime"):
            new["lastTransitionTime"] = old["lastTransitionTime"]
        else:
            new["lastTransitionTime"] = stamp
        by_type[str(new["type"])] = new
    return [by_type[t] for t in CONDITION_TYPES if t in by_type]


def get_condition(
    conditions: Iterable[Mapping[str, Any]] | None, type_: str
) -> Mapping[str, Any] | None:
    for c in conditions or ():
        if c.get("type") == type_:
            return c
    return None
