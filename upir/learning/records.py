"""The learner's records: its settings, a pending proposal, checkpoint helpers and
rejection records (split from :mod:`upir.learning.learner` to keep modules small)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import torch

from upir.core.numbers import Number, to_fraction
from upir.learning.dyna import ModelSettings
from upir.learning.objective import ObjectiveWeights
from upir.learning.regime import RestartSettings
from upir.verification.guardrail import GuardrailDecision
from upir.verification.results import VerificationReport

__all__ = [
    "BUFFER_FIELDS",
    "LearnerSettings",
    "Pending",
    "floats_of",
    "fractions_of",
    "parse_values",
    "rejection_record",
    "same_values",
    "strings_of",
]


@dataclass(frozen=True, slots=True)
class LearnerSettings:
    """How the learner turns outcomes into rewards and how cautious it starts."""

    reward: str = "improvement"
    """``improvement``: a move's reward is the change of the score it caused
    (score of the window after it minus the score of the window it was made
    in), so a move is judged by its own effect, not by where earlier moves left
    the system; with gamma > 0 later improvements still count. ``absolute``: the
    score of the window after it."""
    rejection_penalty: float = 0.25
    """Subtracted from the reward of a move the guardrail rejected (score units:
    0.25 is about what a 25% latency change is worth at weight 1)."""
    screen_moves: bool = True
    """With a guardrail attached, mask every single-parameter move the guardrail
    does not prove from the values in force (2 checks per parameter and
    decision, memoised), so the policy only samples moves that are proved one at
    a time; a joint move can still be rejected (penalised). Without, only the
    domain and grid mask moves and every unproved move is learnt by penalty."""
    keep_prob: float | None = None
    """Initial probability of KEEP for each parameter; None: ``1 - 3/n`` for n
    parameters (at least 0.5), so about three parameters move per window at first."""
    policy: str = "independent"
    """``independent``: one output layer per parameter (the default); ``shared``:
    one network scores every parameter's moves
    (:class:`~upir.learning.shared.SharedHeadActor`), which learns from every
    window for every parameter but did not tune better on the benchmark."""
    embed_dim: int = 4
    """Size of each parameter's learned embedding in the shared policy."""
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    """Penalty weights of the objective (constraint violations, errors, drops)."""
    history: int = 32
    """Rejections kept (with their counterexamples) for reports and checkpoints."""
    model: ModelSettings = field(default_factory=ModelSettings)
    """The score model and imagined (Dyna) rollouts between windows."""
    restart: RestartSettings = field(default_factory=RestartSettings)
    """When to start learning afresh: a jump in a load metric (off by default)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnerSettings:
        d = dict(data)
        d["weights"] = ObjectiveWeights(**dict(d.get("weights") or {}))
        model = dict(d.get("model") or {})
        model["context"] = tuple(model.get("context") or ())  # JSON has lists
        d["model"] = ModelSettings(**model)
        d["restart"] = RestartSettings(**dict(d.get("restart") or {}))
        return cls(**d)


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
