"""Tuning against the simulator: a UPIR's parameters on its own architecture.

:class:`SimulatedWorkload` runs the UPIR's architecture on the general
:class:`~upir.simulator.GraphSimulator` window by window and reports each
window as the metrics the operator reads from Prometheus. A UPIR of the
reference workload's shape (gateway -> orders -> batcher -> worker, the tuning
benchmark's) runs as that workload's calibrated instance
(:func:`upir.simulator.reference.reference_network`). :func:`tune` runs the
operator's loop (:func:`upir.tuning.step.step`: hold, score, roll back,
propose, guard, apply) for a number of windows and returns what happened in
each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from upir.core.numbers import to_json_number
from upir.core.upir import UPIR
from upir.simulator import (
    PROFILE_KINDS,
    GraphSimulator,
    LoadProfile,
    SystemWindow,
    network_from_upir,
)
from upir.simulator.reference import is_reference_shape, reference_network
from upir.tuning.learner import ArchitectureLearner
from upir.tuning.settings import TuningSettings
from upir.tuning.step import Action, LoopState, samples_of, step
from upir.verification.guardrail import Guardrail, GuardrailDecision
from upir.verification.reference_audit import assumption_bounds

__all__ = [
    "LOAD_METRIC",
    "PROFILES",
    "SimulatedWorkload",
    "WindowRecord",
    "arrival_bound",
    "is_reference_workload",
    "make_profile",
    "metrics_of",
    "params_after",
    "tune",
]

PROFILES = PROFILE_KINDS


def is_reference_workload(upir: UPIR) -> bool:
    """Whether ``upir`` is the reference workload's shape (its components, types
    and connections): it then runs as that workload's calibrated instance
    (:func:`~upir.simulator.reference.reference_network`)."""
    return is_reference_shape(upir)


def arrival_bound(upir: UPIR) -> float | None:
    """The upper bound the assumptions put on ``env.arrival_rps`` (None if none)."""
    _, hi = assumption_bounds([a.expr for a in upir.specification.assumptions]).get(
        "env.arrival_rps", (None, None)
    )
    return None if hi is None else float(hi)


def make_profile(kind: str, rps: float, peak_rps: float, total_s: float) -> LoadProfile:
    """``steady``, ``shift`` or ``ramp`` (:meth:`LoadProfile.shaped`). Times in seconds."""
    return LoadProfile.shaped(kind, rps, peak_rps, total_s)


REPORTED_METRICS = (
    "latency_ms",
    "p50_ms",
    "throughput_rps",
    "error_rate",
    "drop_rate",
    "availability",
    "cost",
    "offered_rps",
    "utilization",
)
"""The metrics :func:`metrics_of` reports for every window."""


def metrics_of(m: SystemWindow) -> dict[str, float]:
    """The general simulator's system window as the operator's metrics (``latency_ms`` is the p99; utilization
    the busiest service's).

    A window in which no request was answered has no latency percentile; it
    counts as the whole window (every request waited at least that long)."""
    p99 = m.p99_ms if math.isfinite(m.p99_ms) else m.duration_s * 1000.0
    p50 = m.p50_ms if math.isfinite(m.p50_ms) else m.duration_s * 1000.0
    return {
        "latency_ms": p99,
        "p50_ms": p50,
        "throughput_rps": m.throughput_rps,
        "error_rate": m.error_rate,
        "drop_rate": m.drop_rate,
        "availability": m.availability,
        "cost": m.cost,
        "offered_rps": m.offered_rps,
        "utilization": m.utilization,
    }


class SimulatedWorkload:
    """The general simulator running one UPIR's parameters, one window at a time.

    Any UPIR runs its own architecture in the environment its assumptions
    allow (:func:`~upir.simulator.network_from_upir`); the reference workload's
    shape (:func:`is_reference_workload`) runs as that workload's calibrated
    instance, its clients holding at most ``profile.max_inflight`` requests
    open as the load generator does. ``cores``: CPUs per replica by service
    name (CPU contention, :attr:`~upir.simulator.Node.cores`; none by default).
    """

    def __init__(
        self,
        upir: UPIR,
        profile: LoadProfile,
        *,
        cores: Mapping[str, int] | None = None,
        seed: int = 0,
        window_s: float = 10.0,
    ) -> None:
        self.upir = upir
        self.window_s = float(window_s)
        if is_reference_workload(upir):
            net = reference_network(upir, cores=cores)
            self.graph = GraphSimulator(net, profile, seed=seed, max_in_flight=profile.max_inflight)
        else:
            self.graph = GraphSimulator(network_from_upir(upir, cores=cores), profile, seed=seed)

    def run(self, values: Mapping[str, Fraction]) -> dict[str, float]:
        """Apply ``values`` (tunable parameters) and simulate the next window."""
        self.graph.set_params({k: float(v) for k, v in values.items()})
        return metrics_of(self.graph.run_window(self.window_s).system)


@dataclass
class WindowRecord:
    """What happened in one decision window of :func:`tune`."""

    episode: int
    window: int
    params: dict[str, Fraction]
    """Tunable values in force during the window."""
    metrics: dict[str, float]
    score: float
    proposal: dict[str, Fraction] | None
    outcome: str
    """``unchanged`` (the proposal kept everything), ``accepted`` (proved and
    applied), ``rejected`` (not proved: nothing applied), ``applied`` (no
    guardrail) or ``rolled back`` (the score regressed: the best configuration
    measured so far is back in force for the next window; ``proposal`` holds it)."""
    decisions: list[GuardrailDecision] = field(default_factory=list)
    """The guardrail's answers in this window (several when re-proposing)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "window": self.window,
            "parameters": {k: to_json_number(v) for k, v in self.params.items()},
            "metrics": {k: round(v, 6) for k, v in self.metrics.items()},
            "score": round(self.score, 6),
            "proposal": None
            if self.proposal is None
            else {k: to_json_number(v) for k, v in self.proposal.items()},
            "outcome": self.outcome,
            "guardrail": [
                {
                    "proved": d.proved,
                    "status": d.status.value,
                    "failed": list(d.failed),
                    "timeMs": round(d.time_ms, 3),
                    "cached": d.cached,
                }
                for d in self.decisions
            ],
        }


def params_after(record: WindowRecord) -> dict[str, Fraction]:
    """The tunable values in force after ``record``'s window (its proposal when
    that was applied)."""
    if record.outcome in ("accepted", "applied", "rolled back") and record.proposal is not None:
        return dict(record.proposal)
    return dict(record.params)


OUTCOMES = {
    Action.APPLY: "accepted",
    Action.RECOMMEND: "accepted",
    Action.REJECT: "rejected",
    Action.ROLLBACK: "rolled back",
    Action.KEEP: "unchanged",
    Action.HOLD: "unchanged",
}
"""A :class:`~upir.tuning.step.Decision`'s action as a :class:`WindowRecord` outcome."""

LOAD_METRIC = "offered_rps"
"""The simulator's observed load: requests offered per second."""


def tune(
    learner: ArchitectureLearner,
    workload: SimulatedWorkload,
    windows: int,
    *,
    guardrail: Guardrail | None,
    settings: TuningSettings | None = None,
    start: Mapping[str, Fraction] | None = None,
    episode: int = 0,
    on_window: Callable[[WindowRecord], None] | None = None,
) -> list[WindowRecord]:
    """Run ``windows`` decision windows through :func:`upir.tuning.step.step`,
    the operator's step: measure, score, roll back, propose, check, apply.

    A proved proposal is applied for the next window; a rejected one is
    recorded with the learner, which may offer another in the same window
    (``settings.attempts``). ``guardrail=None`` applies every proposal
    unchecked (the benchmark's unguarded baseline). ``start``: the values in
    force at the first window (default: the UPIR's). ``settings``: the loop's
    (default :class:`TuningSettings`: rollback on; ``rollback.enabled=False``
    turns it off). The simulator's offered load is passed as the observed load
    (``offered_rps``); a learner built with
    ``settings.learner_for(("offered_rps",))`` uses it.
    """
    st = settings if settings is not None else TuningSettings()
    params = dict(start) if start is not None else learner.upir.tunable_values()
    guard = guardrail.check if guardrail is not None else None
    state = LoopState()
    records: list[WindowRecord] = []
    for w in range(windows):
        metrics = workload.run(params)
        load = {LOAD_METRIC: metrics[LOAD_METRIC]} if LOAD_METRIC in metrics else None
        dec = step(
            learner=learner,
            state=state,
            current=params,
            samples=samples_of(metrics),
            guard=guard,
            settings=st,
            load=load,
        )
        state = dec.state
        outcome = OUTCOMES[dec.action]
        if dec.action is Action.APPLY and guard is None:
            outcome = "applied"
        proposal = dict(dec.params) if dec.action is Action.ROLLBACK and dec.params else None
        if proposal is None and dec.proposal is not None:
            proposal = dict(dec.proposal)
        rec = WindowRecord(
            episode,
            w,
            dict(params),
            metrics,
            dec.score if dec.score is not None else math.nan,
            proposal,
            outcome,
            [c for c in dec.checks if isinstance(c, GuardrailDecision)],
        )
        if dec.action in (Action.APPLY, Action.ROLLBACK) and dec.params is not None:
            params = dict(dec.params)
        records.append(rec)
        if on_window is not None:
            on_window(rec)
    return records
