"""Tuning decisions, as pure functions over one window's metrics.

Each interval the tuning loop reads metrics, asks the learner for a proposal and
the guardrail for a verdict, then calls :func:`decide`. The rules:

- HOLD when a metric is missing, NaN, infinite, stale or the window has too few
  requests: nothing changes, the Tuning condition says why;
- ROLLBACK to the last proved configuration that met the objective when the
  measured score has regressed beyond ``regression_threshold`` for
  ``regression_windows`` windows in a row;
- REJECT a proposal the guardrail did not prove (any verdict but PROVED);
- APPLY (mode Auto) or RECOMMEND (mode Recommend) a proved proposal that changes
  something; KEEP when the proposal is the current configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction

Params = Mapping[str, Fraction]


class Action(str, Enum):
    HOLD = "Hold"
    ROLLBACK = "RollBack"
    REJECT = "Reject"
    APPLY = "Apply"
    RECOMMEND = "Recommend"
    KEEP = "Keep"


@dataclass(frozen=True, slots=True)
class TuningPolicy:
    regression_threshold: float = 0.2
    """Relative worsening of the score (vs the best proved configuration's) that
    counts as a regression: 0.2 = 20 % worse."""
    regression_windows: int = 2
    """Consecutive regressed windows before rolling back."""
    max_age_s: float = 300.0
    """Samples older than this (seconds) are stale: hold."""
    min_throughput_rps: float = 0.0
    """Below this measured throughput (req/s) a window is too thin to judge: hold."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One PromQL result: value and its timestamp (seconds since the epoch)."""

    value: float | None
    timestamp: float | None = None
    error: str | None = None
    """Why the query gave no usable sample (a PromQL error, several series, ...);
    None with ``value`` None means the query matched nothing."""


@dataclass(frozen=True)
class TuningState:
    """What the loop remembers between windows (persisted with the checkpoint)."""

    best_params: Mapping[str, Fraction] | None = None
    best_score: float | None = None
    bad_windows: int = 0
    proposals: int = 0
    accepted: int = 0
    rejected: int = 0
    rolled_back: int = 0
    holds: int = 0


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    params: Mapping[str, Fraction] | None = None
    state: TuningState = field(default_factory=TuningState)


def hold_reason(
    samples: Mapping[str, Sample], required: tuple[str, ...], now: float, policy: TuningPolicy
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
        if s.timestamp is not None and now - s.timestamp > policy.max_age_s:
            return f"MetricStale: {name} is {now - s.timestamp:.0f}s old"
    tp = samples.get("throughput_rps")
    if tp is not None and tp.value is not None and tp.value < policy.min_throughput_rps:
        return f"TooFewSamples: throughput {tp.value:.3g} rps < {policy.min_throughput_rps}"
    return None


def score(metrics: Mapping[str, float], objective: Mapping[str, Fraction]) -> float:
    """Lower is better: weighted latency and error rate, minus weighted throughput.

    Objective keys are metric names; ``throughput_rps`` (and any key ending in
    ``_rps``) is a benefit, every other metric a cost."""
    total = 0.0
    for name, weight in objective.items():
        value = metrics.get(name)
        if value is None:
            continue
        sign = -1.0 if name.endswith("_rps") else 1.0
        total += sign * float(weight) * value
    return total


def _regressed(current: float, best: float, threshold: float) -> bool:
    return current > best + threshold * max(abs(best), 1e-9)


def decide(
    *,
    mode: str,
    state: TuningState,
    current: Params,
    samples: Mapping[str, Sample],
    required: tuple[str, ...],
    objective: Mapping[str, Fraction],
    proposal: Params | None,
    proved: bool | None,
    now: float,
    policy: TuningPolicy,
) -> Decision:
    """One window's decision. ``proved``: the guardrail's answer for ``proposal``
    (None when there is no proposal)."""
    why = hold_reason(samples, required, now, policy)
    if why is not None:
        return Decision(Action.HOLD, why, state=replace(state, holds=state.holds + 1))
    metrics = {k: float(s.value) for k, s in samples.items() if s.value is not None}
    current_score = score(metrics, objective)
    st = state
    # the running configuration is proved (only proved ones are ever applied):
    # remember it as the best when it measures better than anything so far
    if st.best_score is None or current_score < st.best_score:
        st = replace(st, best_params=dict(current), best_score=current_score, bad_windows=0)
    elif _regressed(current_score, st.best_score, policy.regression_threshold):
        st = replace(st, bad_windows=st.bad_windows + 1)
    else:
        st = replace(st, bad_windows=0)
    if (
        st.bad_windows >= policy.regression_windows
        and st.best_params is not None
        and dict(st.best_params) != dict(current)
    ):
        st = replace(st, bad_windows=0, rolled_back=st.rolled_back + 1)
        return Decision(
            Action.ROLLBACK,
            f"score {current_score:.4g} regressed beyond {policy.regression_threshold:.0%} of "
            f"{st.best_score:.4g} for {policy.regression_windows} windows",
            params=st.best_params,
            state=st,
        )
    if proposal is None or dict(proposal) == dict(current):
        return Decision(Action.KEEP, "the agent proposes no change", state=st)
    st = replace(st, proposals=st.proposals + 1)
    if not proved:
        return Decision(
            Action.REJECT,
            "the guardrail did not prove the proposal",
            proposal,
            replace(st, rejected=st.rejected + 1),
        )
    st = replace(st, accepted=st.accepted + 1)
    if mode == "Auto":
        return Decision(Action.APPLY, "proved proposal applied", proposal, st)
    return Decision(Action.RECOMMEND, "proved proposal recommended", proposal, st)
