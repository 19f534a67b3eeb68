"""What the learner's checkpoint is made of: a pending proposal, the rollout's
fields, value conversions and rejection records (read and written by
:meth:`upir.tuning.learner.ArchitectureLearner.to_bytes` / ``from_bytes``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch

from upir.core.numbers import Number, to_fraction
from upir.verification.guardrail import GuardrailDecision
from upir.verification.results import VerificationReport

__all__ = [
    "BUFFER_FIELDS",
    "Pending",
    "floats_of",
    "fractions_of",
    "parse_values",
    "rejection_record",
    "same_values",
    "strings_of",
]


@dataclass
class Pending:
    """A proposal waiting for the window that shows its consequence."""

    obs: torch.Tensor
    mask: torch.Tensor
    action: torch.Tensor
    logprob: float
    value: float
    before: dict[str, Fraction]
    proposal: dict[str, Fraction]
    score: float
    """Score of the window the proposal was made in (for improvement rewards)."""

    def to_state(self) -> dict[str, Any]:
        """For a checkpoint (tensors and strings; :meth:`from_state` reads it)."""
        return {
            "obs": self.obs,
            "mask": self.mask,
            "action": self.action,
            "logprob": self.logprob,
            "value": self.value,
            "before": strings_of(self.before),
            "proposal": strings_of(self.proposal),
            "score": self.score,
        }

    @classmethod
    def from_state(cls, p: Mapping[str, Any]) -> Pending:
        return cls(
            obs=p["obs"],
            mask=p["mask"],
            action=p["action"],
            logprob=float(p["logprob"]),
            value=float(p["value"]),
            before=parse_values(p["before"]),
            proposal=parse_values(p["proposal"]),
            score=float(p["score"]),
        )


def fractions_of(values: Mapping[str, Fraction | Number]) -> dict[str, Fraction]:
    return {k: to_fraction(v) for k, v in values.items()}


BUFFER_FIELDS = (
    "obs",
    "next_obs",
    "masks",
    "actions",
    "logprobs",
    "values",
    "rewards",
    "terminated",
    "truncated",
)


def same_values(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> bool:
    return all(a.get(k) == v for k, v in b.items())


def strings_of(values: Mapping[str, Fraction]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


def parse_values(values: Mapping[str, str]) -> dict[str, Fraction]:
    return {str(k): Fraction(str(v)) for k, v in values.items()}


def floats_of(values: Mapping[str, float] | None) -> dict[str, float] | None:
    return None if values is None else {str(k): float(v) for k, v in values.items()}


def rejection_record(
    values: Mapping[str, Fraction],
    outcome: GuardrailDecision | VerificationReport | None,
    window: int,
) -> dict[str, Any]:
    """A JSON-able record of one rejection (kept in checkpoints)."""
    record: dict[str, Any] = {
        "window": window,
        "parameters": {k: float(v) for k, v in values.items()},
        "status": None,
        "failed": [],
        "counterexample": None,
    }
    if isinstance(outcome, GuardrailDecision):
        record["status"] = outcome.status.value
        record["failed"] = list(outcome.failed)
        if outcome.counterexample is not None:
            record["counterexample"] = outcome.counterexample.to_json()
    elif isinstance(outcome, VerificationReport):
        record["status"] = outcome.status.value
        failures = outcome.failures()
        record["failed"] = [r.property.name for r in failures]
        cex = next((r.counterexample for r in failures if r.counterexample is not None), None)
        if cex is not None:
            record["counterexample"] = cex.to_json()
    return record
