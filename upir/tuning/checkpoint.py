"""The learner's checkpoint: everything needed to resume it, as bytes.

What is in it (:func:`to_bytes`): the agent (weights, optimiser, RNG), the
partial rollout, the pending proposal, what the observation remembers
(:class:`upir.tuning.observation.Recent`), the objective's baseline, the
counters and rejection records, the score model's windows and the load watch.
The guardrail is not: it is the caller's, and is passed again to
:func:`from_bytes`.

Why a signature: a checkpoint is only meaningful for the action space and
observation layout it was made for; after a spec change it is refused
(:class:`~upir.tuning.rl.agent.CheckpointError`) and the caller starts afresh,
rather than resuming a policy whose inputs now mean something else. It is
loaded with ``weights_only=True``: the operator reads checkpoints back from a
ConfigMap, and a checkpoint holds data, never code.
The format (``upir.learner/1``) is what operators have stored; its keys stay.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import torch

from upir.tuning.credit import Pending
from upir.tuning.rl.agent import CheckpointError
from upir.tuning.rl.ppo import PPOConfig
from upir.tuning.settings import LearnerSettings
from upir.verification.guardrail import GuardrailDecision
from upir.verification.results import VerificationReport

if TYPE_CHECKING:  # the learner builds and reads checkpoints through this module
    from upir.tuning.learner import ArchitectureLearner

__all__ = [
    "BUFFER_FIELDS",
    "LEARNER_FORMAT",
    "floats_of",
    "from_bytes",
    "parse_values",
    "rejection_record",
    "signature",
    "strings_of",
    "to_bytes",
]

LEARNER_FORMAT = "upir.learner/1"

Build = Callable[[PPOConfig, int, LearnerSettings], "ArchitectureLearner"]
"""``build(config, seed, settings)``: a fresh learner for the checkpoint's
spec (the caller's UPIR and guardrail)."""


def signature(learner: ArchitectureLearner) -> dict[str, Any]:
    """What a checkpoint must match: the action space and the observation layout."""
    space, obs = learner.space, learner.observer
    return {
        "parameters": [
            [a.name, str(a.domain.min), str(a.domain.max), str(a.unit)] for a in space.axes
        ],
        "maxStepFraction": str(space.fraction),
        "metrics": list(obs.metric_names),
        "constraints": list(obs.constraint_keys),
        "obsDim": obs.obs_dim,
        "policy": learner.settings.policy,
        "embedDim": learner.settings.embed_dim,
    }


def to_bytes(learner: ArchitectureLearner) -> bytes:
    """``learner``'s state (see the module docstring)."""
    b = learner.buffer
    pos = b.pos
    p = learner.pending
    recent = learner.recent
    state: dict[str, Any] = {
        "format": LEARNER_FORMAT,
        "signature": signature(learner),
        "settings": learner.settings.to_dict(),
        "agent": learner.agent.state_dict(),
        "buffer": {
            "pos": pos,
            **{k: getattr(b, k)[:pos].clone() for k in BUFFER_FIELDS},
        },
        "params": strings_of(learner.params),
        "metrics": recent.metrics,
        "prevMetrics": recent.prev_metrics,
        "objective": learner.objective.state(),
        "pending": None if p is None else _pending_state(p),
        "rejectionsNow": recent.rejections_now,
        "lastMove": list(recent.last_move),
        "lastRejected": list(recent.last_rejected),
        "lastGain": recent.last_gain,
        "counters": dict(learner.counters),
        "lastReward": learner.last_reward,
        "lastUpdate": dict(learner.last_update),
        "rejections": list(learner.rejections),
        "model": learner.model.state(),
        "watch": learner.watch.state(),
    }
    out = io.BytesIO()
    torch.save(state, out)
    return out.getvalue()


def from_bytes(data: bytes, build: Build) -> ArchitectureLearner:
    """The learner :func:`to_bytes` wrote, rebuilt with ``build``.

    Raises :class:`CheckpointError` when the blob is unreadable or was made
    for another action space or observation layout (a changed spec)."""
    try:
        state = torch.load(io.BytesIO(data), weights_only=True)
        if not isinstance(state, dict) or state.get("format") != LEARNER_FORMAT:
            raise CheckpointError(f"not a {LEARNER_FORMAT} checkpoint")
        agent_state = state["agent"]
        config = PPOConfig.from_dict(dict(agent_state["config"]))
        settings = LearnerSettings.from_dict(state["settings"])
        learner = build(config, int(agent_state["seed"]), settings)
        if state["signature"] != signature(learner):
            raise CheckpointError("the checkpoint was made for another spec's parameters")
        learner.agent.load_state_dict(agent_state)
        _restore(learner, state)
    except CheckpointError:
        raise
    except Exception as exc:  # torch.load and malformed dicts raise many types
        raise CheckpointError(f"unreadable learner checkpoint: {exc}") from None
    return learner


def _restore(learner: ArchitectureLearner, state: Mapping[str, Any]) -> None:
    """Everything but the agent, from :func:`to_bytes`' ``state``."""
    buffer = learner.buffer
    buf = state["buffer"]
    pos = int(buf["pos"])
    if not 0 <= pos < buffer.num_steps:
        raise CheckpointError(f"buffer position {pos} out of range")
    for k in BUFFER_FIELDS:
        getattr(buffer, k)[:pos] = buf[k]
    buffer.pos = pos
    learner.params = parse_values(state["params"])
    learner.space.values_of(learner.params)
    recent = learner.recent
    recent.metrics = floats_of(state["metrics"])
    recent.prev_metrics = floats_of(state["prevMetrics"])
    learner.objective.load_state(state["objective"])
    p = state["pending"]
    learner.pending = None if p is None else _pending_from(p)
    recent.rejections_now = int(state["rejectionsNow"])
    recent.last_move = [int(x) for x in state["lastMove"]]
    recent.last_rejected = [int(x) for x in state["lastRejected"]]
    recent.last_gain = float(state["lastGain"])
    n = len(learner.space)
    if len(recent.last_move) != n or len(recent.last_rejected) != n:
        raise CheckpointError("checkpoint's per-parameter state has the wrong length")
    # update, not replace: a checkpoint older than a counter lacks its key
    learner.counters.update({str(k): int(v) for k, v in state["counters"].items()})
    last = state["lastReward"]
    learner.last_reward = None if last is None else float(last)
    learner.last_update = {str(k): float(v) for k, v in state["lastUpdate"].items()}
    learner.rejections.extend(state["rejections"])
    learner.model.load_state(state.get("model") or {})
    learner.watch.load_state(state.get("watch") or {})


def _pending_state(p: Pending) -> dict[str, Any]:
    """``p`` as tensors and strings (:func:`_pending_from` reads it)."""
    return {
        "obs": p.obs,
        "mask": p.mask,
        "action": p.action,
        "logprob": p.logprob,
        "value": p.value,
        "before": strings_of(p.before),
        "proposal": strings_of(p.proposal),
        "score": p.score,
    }


def _pending_from(p: Mapping[str, Any]) -> Pending:
    return Pending(
        obs=p["obs"],
        mask=p["mask"],
        action=p["action"],
        logprob=float(p["logprob"]),
        value=float(p["value"]),
        before=parse_values(p["before"]),
        proposal=parse_values(p["proposal"]),
        score=float(p["score"]),
    )


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
