"""The settings tree of the tuning loop: one place, one validation.

::

    TuningSettings
      learner: LearnerSettings       reward, screening (the guardrail's masking),
        weights: ObjectiveWeights    the objective's penalty weights,
        model: ModelSettings         the score model and imagined rollouts,
        restart: RestartSettings     starting afresh when the load jumps
      model: bool | None             the benchmark's winner, on where a load is observed
      attempts: int                  guarded proposals per window
      rollback: RollbackSettings     back to the best configuration on a regression
      hold: HoldSettings             when a window cannot be judged

The operator builds it from ``UPIR_TUNING_*`` (chart values ``tuning.*``) and a
UPIR's ``spec.tuning.learner``; ``upir tune`` from its options; the benchmark
from its methods. :meth:`TuningSettings.validate` is the one check: every
problem is a :class:`~upir.errors.FieldIssue` naming the field's path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from upir.errors import FieldIssue, InvalidSpecError
from upir.tuning.imagination import ModelSettings
from upir.tuning.objective import ObjectiveWeights
from upir.tuning.restart import RestartSettings

__all__ = ["HoldSettings", "LearnerSettings", "RollbackSettings", "TuningSettings"]


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
    (:class:`~upir.tuning.rl.shared.SharedHeadActor`), which learns from every
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


@dataclass(frozen=True, slots=True)
class HoldSettings:
    """When a window is not judged at all (the loop holds: nothing changes)."""

    max_age_s: float = 300.0
    """Samples older than this (seconds) are stale. Default 300."""
    min_throughput_rps: float = 0.0
    """Below this measured throughput (req/s, 0..1e9) a window is too thin to
    judge. Default 0 (never)."""


@dataclass(frozen=True, slots=True)
class RollbackSettings:
    """Return to the best configuration measured when the score regresses.

    The configuration in force is always proved (only proved ones are
    applied), so the best one measured is a safe place to go back to. While
    the best configuration runs its score is re-measured, so a best set under
    another load (before a shift) does not hold forever."""

    enabled: bool = True
    """Roll back at all. Default on (the operator's rule; the benchmark's
    ``ppo_guarded_rollback*`` methods)."""
    threshold: float = 0.2
    """How far below the best configuration's score a window must be to count
    as regressed, as a share of that score's magnitude, at least 0.1 score
    units (near 0 a share of the score would be noise). Default 0.2."""
    windows: int = 2
    """Consecutive regressed windows before rolling back. Default 2."""


@dataclass(frozen=True, slots=True)
class TuningSettings:
    """Everything the tuning step and its learner are configured with."""

    learner: LearnerSettings = field(default_factory=LearnerSettings)
    """The learner: reward, move screening with the guardrail, objective
    penalty weights (``learner.weights``), score model (``learner.model``) and
    restarts (``learner.restart``)."""
    model: bool | None = None
    """The tuning benchmark's winner: the learner's score model with the
    observed load as its context, exploring imagination, and a restart when
    the load jumps (docs/benchmarks.md, "Tuning"), whatever
    ``learner.model.enabled`` says. None (the default): on
    exactly where an observed load exists (the operator's
    ``spec.tuning.prometheus.environment``, the simulator's offered load);
    True: the model always (without a load it has no context and nothing
    restarts); False: never (``learner`` as given)."""
    attempts: int = 2
    """Proposals checked by the guardrail per window: after a rejection the
    learner is asked for another candidate in the same window. Default 2."""
    rollback: RollbackSettings = field(default_factory=RollbackSettings)
    hold: HoldSettings = field(default_factory=HoldSettings)
    seed: int = 0
    """Seeds a new learner's network and sampling (0..2**31-1). Default 0."""

    def learner_for(self, load: Sequence[str] = ()) -> LearnerSettings:
        """The learner's settings when the windows carry the observed load
        metrics ``load`` (names; empty: none observed)."""
        use_model = self.model if self.model is not None else bool(load)
        if not use_model:
            return self.learner
        names = tuple(sorted(load))
        return replace(
            self.learner,
            model=replace(self.learner.model, enabled=True, context=names),
            # an explicitly watched metric wins over the first load metric
            restart=replace(
                self.learner.restart,
                metric=self.learner.restart.metric or (names[0] if names else None),
            ),
        )

    def problems(self) -> list[FieldIssue]:
        """Every setting out of range, each naming its path (``rollback.windows``)."""
        out: list[FieldIssue] = []
        lr = self.learner
        if lr.keep_prob is not None and not 0.0 < lr.keep_prob < 1.0:
            out.append(FieldIssue("learner.keep_prob", "must be in (0, 1)"))
        if lr.reward not in ("improvement", "absolute"):
            out.append(FieldIssue("learner.reward", "must be 'improvement' or 'absolute'"))
        if lr.policy not in ("shared", "independent"):
            out.append(FieldIssue("learner.policy", "must be 'shared' or 'independent'"))
        if lr.embed_dim < 1:
            out.append(FieldIssue("learner.embed_dim", "must be >= 1"))
        if lr.history < 0:
            out.append(FieldIssue("learner.history", "must be >= 0"))
        out += [FieldIssue(f"learner.{f}", m) for f, m in lr.model.problems()]
        out += [FieldIssue(f"learner.{f}", m) for f, m in lr.restart.problems()]
        if self.model not in (None, True, False):
            out.append(FieldIssue("model", "must be true, false or null (auto)"))
        if not 1 <= self.attempts <= 10:
            out.append(FieldIssue("attempts", "must be between 1 and 10"))
        rb = self.rollback
        if not (math.isfinite(rb.threshold) and 0 < rb.threshold <= 10):
            out.append(FieldIssue("rollback.threshold", "must be in (0, 10]"))
        if not 1 <= rb.windows <= 100:
            out.append(FieldIssue("rollback.windows", "must be between 1 and 100"))
        h = self.hold
        if not (math.isfinite(h.max_age_s) and h.max_age_s > 0):
            out.append(FieldIssue("hold.max_age_s", "must be a finite number > 0"))
        if not (math.isfinite(h.min_throughput_rps) and 0 <= h.min_throughput_rps <= 1e9):
            out.append(FieldIssue("hold.min_throughput_rps", "must be between 0 and 1e9"))
        if not 0 <= self.seed <= 2**31 - 1:
            out.append(FieldIssue("seed", "must be between 0 and 2147483647"))
        return out

    def validate(self) -> TuningSettings:
        """``self``, or :class:`InvalidSpecError` listing every problem."""
        if issues := self.problems():
            raise InvalidSpecError(issues)
        return self
