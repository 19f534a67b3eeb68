"""One decision window of the tuning loop, the same for every caller.

The operator (``upir_operator.tuning``: read Prometheus, call :func:`step`,
write the cluster), ``upir tune --simulate`` and ``benchmarks/tuning.py``
(:func:`upir.tuning.simulated.tune`: run the simulator, call :func:`step`,
apply) all decide through this function, so the benchmark's figures describe
the loop the operator runs. In order:

1. HOLD when a required metric (or an observed load the learner needs) is
   missing, failed, not finite or stale, or the window is too thin: nothing
   changes and the learner does not see the window;
2. score the window with the learner's :class:`TuningObjective` (higher is
   better) and let the learner learn from it and propose;
3. ROLLBACK to the best configuration measured when the score stayed
   regressed (:class:`Best`, :class:`~upir.tuning.settings.RollbackSettings`);
4. KEEP when the proposal changes nothing;
5. guard the proposal (only PROVED passes; after a rejection the learner may
   offer ``attempts - 1`` more candidates in the same window); REJECT when
   none is proved;
6. APPLY (mode Auto) or RECOMMEND (mode Recommend) the proved proposal.

Nothing here does I/O: the caller's ``guard`` callable runs the verifier.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from upir.core.upir import UPIR
from upir.tuning.objective import REQUIRED_METRICS
from upir.tuning.settings import HoldSettings, RollbackSettings, TuningSettings
from upir.verification.guardrail import Guardrail, GuardrailDecision
from upir.verification.results import VerificationReport

if TYPE_CHECKING:
    from upir.tuning.learner import ArchitectureLearner

__all__ = [
    "REQUIRED_METRICS",
    "Action",
    "Best",
    "Decision",
    "GuardOutcome",
    "LoopState",
    "Sample",
    "hold_reason",
    "new_learner",
    "samples_of",
    "step",
]

Params = Mapping[str, Fraction]
GuardOutcome = GuardrailDecision | VerificationReport
"""The guardrail's answer (simulated loop) or the verifier's report (operator)."""
STATE_FORMAT = "upir.tuning-state/2"
"""Format of :meth:`LoopState.to_json`; /2: scores are TuningObjective's (higher
is better). A state of another format resumes its counters, not its best."""


class Action(str, Enum):
    HOLD = "Hold"
    ROLLBACK = "RollBack"
    REJECT = "Reject"
    APPLY = "Apply"
    RECOMMEND = "Recommend"
    KEEP = "Keep"


@dataclass(frozen=True, slots=True)
class Sample:
    """One metric of a window: value and its timestamp (seconds since the epoch)."""

    value: float | None
    timestamp: float | None = None
    error: str | None = None
    """Why the query gave no usable sample (a PromQL error, several series, ...);
    None with ``value`` None means the query matched nothing."""


def samples_of(metrics: Mapping[str, float], now: float | None = None) -> dict[str, Sample]:
    """A simulated window's metrics as samples taken at ``now``."""
    return {k: Sample(float(v), now) for k, v in metrics.items()}


@dataclass(frozen=True)
class LoopState:
    """What the loop remembers between windows (persisted with the checkpoint)."""

    best_params: Mapping[str, Fraction] | None = None
    """The best configuration measured so far (always a proved one)."""
    best_score: float | None = None
    """Its score (:class:`TuningObjective`, higher is better)."""
    bad_windows: int = 0
    """Consecutive windows regressed beyond the rollback threshold."""
    proposals: int = 0
    accepted: int = 0
    rejected: int = 0
    rolled_back: int = 0
    holds: int = 0

    def to_json(self) -> str:
        d: dict[str, Any] = asdict(self)
        d["best_params"] = {k: str(v) for k, v in (self.best_params or {}).items()} or None
        d["format"] = STATE_FORMAT
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LoopState:
        """Raises ValueError (or KeyError/TypeError) on a malformed state."""
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("the tuning state is not a JSON object")
        fmt = d.pop("format", None)
        if fmt != STATE_FORMAT:
            # an older score (another scale): keep the counters, measure afresh
            d["best_params"], d["best_score"], d["bad_windows"] = None, None, 0
        if d.get("best_params"):
            d["best_params"] = {k: Fraction(v) for k, v in d["best_params"].items()}
        return cls(**d)


@dataclass(frozen=True)
class Decision:
    """One window's outcome."""

    action: Action
    reason: str
    params: Mapping[str, Fraction] | None = None
    """What to apply (Apply, RollBack), recommend, or what was rejected."""
    state: LoopState = field(default_factory=LoopState)
    score: float | None = None
    """The window's score (None when held)."""
    proposal: Mapping[str, Fraction] | None = None
    """The learner's last proposal this window (None when held)."""
    checks: tuple[GuardOutcome, ...] = ()
    """The guardrail's answers this window, in order."""


def hold_reason(
    samples: Mapping[str, Sample],
    required: tuple[str, ...],
    now: float,
    hold: HoldSettings,
) -> str | None:
    """Why this window cannot be judged, or None when it can."""
    for name in required:
        s = samples.get(name)
        if s is not None and s.error is not None:
            return f"QueryFailed: {name}: {s.error}"
        if s is None or s.value is None:
            return f"MetricMissing: {name} returned no sample"
        if math.isnan(s.value) or math.isinf(s.value):
            return f"MetricNotFinite: {name} is {s.value}"
        if s.timestamp is not None and now - s.timestamp > hold.max_age_s:
            return f"MetricStale: {name} is {now - s.timestamp:.0f}s old"
    tp = samples.get("throughput_rps")
    if tp is not None and tp.value is not None and tp.value < hold.min_throughput_rps:
        return f"TooFewSamples: throughput {tp.value:.3g} rps < {hold.min_throughput_rps}"
    return None


class Best:
    """The one rollback rule, over :class:`LoopState`.

    The running configuration becomes the best when it scores higher than the
    best so far, or when it *is* the best (its score is re-measured, so a best
    set under another load does not hold forever). Otherwise a window more than
    ``threshold * max(|best|, 0.1)`` below the best is regressed; ``windows``
    regressed windows in a row send the loop back to the best."""

    @staticmethod
    def observe(
        state: LoopState, params: Params, score: float, policy: RollbackSettings
    ) -> tuple[LoopState, bool]:
        """The state after a window, and whether to roll back now."""
        if (
            state.best_params is None
            or state.best_score is None
            or dict(params) == dict(state.best_params)
            or score > state.best_score
        ):
            return replace(state, best_params=dict(params), best_score=score, bad_windows=0), False
        margin = policy.threshold * max(abs(state.best_score), 0.1)
        bad = state.bad_windows + 1 if score < state.best_score - margin else 0
        if bad >= policy.windows:
            return replace(state, bad_windows=0), True
        return replace(state, bad_windows=bad), False


def new_learner(
    upir: UPIR,
    settings: TuningSettings,
    *,
    load: tuple[str, ...] = (),
    guardrail: Guardrail | None = None,
    seed: int | None = None,
) -> ArchitectureLearner:
    """A fresh learner for :func:`step`, configured by ``settings`` for windows
    that carry the observed load metrics ``load`` (the winner where there is one)."""
    from upir.tuning.learner import ArchitectureLearner

    return ArchitectureLearner(
        upir,
        seed=settings.seed if seed is None else seed,
        settings=settings.learner_for(load),
        guardrail=guardrail,
    )


def proved(outcome: GuardOutcome) -> bool:
    """Only PROVED passes."""
    if isinstance(outcome, GuardrailDecision):
        return outcome.proved
    return bool(outcome.passed)


def step(
    *,
    learner: ArchitectureLearner,
    state: LoopState,
    current: Params,
    samples: Mapping[str, Sample],
    guard: Callable[[Params], GuardOutcome] | None,
    settings: TuningSettings,
    mode: str = "Auto",
    now: float = 0.0,
    load: Mapping[str, float] | None = None,
) -> Decision:
    """One window: see the module docstring.

    ``current``: the tunable values in force while the window was measured (all
    proved). ``guard``: the guardrail; None applies every proposal unchecked
    (the benchmark's unguarded baseline). ``mode``: ``Auto`` applies a proved
    proposal, ``Recommend`` recommends it. ``load``: the observed load (e.g.
    ``{"arrival_rps": 210.0}``, or the simulator's ``offered_rps``), given to the
    learner with the window's metrics; the learner's model context names
    (:meth:`TuningSettings.learner_for`) must be in ``load`` or ``samples``.
    """
    context = learner.settings.model.context if learner.settings.model.enabled else ()
    restart = learner.settings.restart.metric
    needs = (*REQUIRED_METRICS, *context, *((restart,) if restart else ()))
    merged = dict(samples)
    for name, value in (load or {}).items():
        merged.setdefault(name, Sample(value, now))
    why = hold_reason(merged, tuple(dict.fromkeys(needs)), now, settings.hold)
    if why is not None:
        return Decision(Action.HOLD, why, state=replace(state, holds=state.holds + 1))
    metrics = {k: float(s.value) for k, s in merged.items() if s.value is not None}
    for name in context:
        if metrics[name] <= 0:
            why = f"LoadNotPositive: {name} is {metrics[name]:.3g} (the model takes its log)"
            return Decision(Action.HOLD, why, state=replace(state, holds=state.holds + 1))
    score = learner.objective.score(metrics, current)
    proposal: dict[str, Fraction] = learner.learn_from_metrics(metrics, current)
    st = state
    if settings.rollback.enabled:
        st, back = Best.observe(st, current, score, settings.rollback)
        best = st.best_params
        if back and best is not None:
            st = replace(st, rolled_back=st.rolled_back + 1)
            return Decision(
                Action.ROLLBACK,
                f"score {score:.4g} regressed beyond {settings.rollback.threshold:.0%} of "
                f"{st.best_score:.4g} for {settings.rollback.windows} windows",
                params=dict(best),
                state=st,
                score=score,
                proposal=proposal,
            )
    if dict(proposal) == dict(current):
        return Decision(
            Action.KEEP, "the agent proposes no change", state=st, score=score, proposal=proposal
        )
    checks: list[GuardOutcome] = []
    for attempt in range(settings.attempts):
        st = replace(st, proposals=st.proposals + 1)
        if guard is None:
            st = replace(st, accepted=st.accepted + 1)
            return _accepted(mode, proposal, st, score, checks, "applied unchecked")
        outcome = guard(proposal)
        checks.append(outcome)
        if proved(outcome):
            st = replace(st, accepted=st.accepted + 1)
            return _accepted(mode, proposal, st, score, checks, "proved proposal")
        st = replace(st, rejected=st.rejected + 1)
        learner.record_rejection(proposal, outcome)
        if attempt + 1 < settings.attempts:
            candidate = learner.propose()
            if dict(candidate) == dict(current):
                break  # the learner now keeps everything: nothing more to check
            proposal = candidate
    return Decision(
        Action.REJECT,
        "the guardrail did not prove the proposal",
        proposal,
        st,
        score=score,
        proposal=proposal,
        checks=tuple(checks),
    )


def _accepted(
    mode: str,
    proposal: dict[str, Fraction],
    st: LoopState,
    score: float,
    checks: list[GuardOutcome],
    what: str,
) -> Decision:
    action = Action.APPLY if mode == "Auto" else Action.RECOMMEND
    verb = "applied" if action is Action.APPLY else "recommended"
    reason = what if what == "applied unchecked" else f"{what} {verb}"
    return Decision(action, reason, proposal, st, score, proposal, tuple(checks))
