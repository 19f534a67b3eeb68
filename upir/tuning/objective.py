"""The tuning objective: one number per decision window, from the spec.

The learner's reward, the benchmark's comparison of tuners and the ``upir tune``
report all score a window the same way, so "better" means one thing:

``score = sum_k w_k * term_k - penalties``

for every metric ``k`` weighted in ``spec.tuning.objective`` (default
``{latency_ms: 1, throughput_rps: 1, error_rate: 10}``):

- *ratio metrics* (names ending in ``_rate``, ``availability``, ``utilization``)
  are shares in [0, 1]: ``term = dir * (m - base)``;
- every other metric (latencies in ms, rates in requests/s, cost units) is scored
  by its log-ratio to the baseline window, ``term = dir * ln((m + 1) / (base + 1))``:
  halving latency is worth as much as doubling throughput, the score does not
  depend on the units, and a collapsed window (latency 50x) stays bounded.

``dir`` is +1 for benefits (names ending in ``_rps``, ``availability``,
``success_rate``) and -1 for costs (everything else). The baseline is the first
window seen; since it only shifts every score by the same constant, rankings never
depend on it (a score is 0 at the baseline).

Penalties, each a weight times a non-negative amount:

- every ``spec.specification.constraints`` bound a metric can be compared with
  (``latency_ms`` max, ``throughput_rps`` min, ``availability`` min, read as
  ``1 - error_rate`` when not measured, ``cost`` max, computed from the
  parameters when not measured): its relative violation, capped at 5;
- errors and drops when the objective does not already weigh them
  (``error_rate``, ``drop_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError

__all__ = [
    "DEFAULT_OBJECTIVE",
    "REQUIRED_METRICS",
    "ObjectiveWeights",
    "TuningObjective",
    "is_benefit",
    "is_ratio",
]

REQUIRED_METRICS = ("latency_ms", "throughput_rps", "error_rate")
"""Metrics every window must report (the operator's PromQL queries give them)."""

DEFAULT_OBJECTIVE: Mapping[str, float] = {
    "latency_ms": 1.0,
    "throughput_rps": 1.0,
    "error_rate": 10.0,
}
"""Weights used when ``spec.tuning.objective`` is empty (DESIGN.md's example)."""

_RATIO_NAMES = frozenset({"availability", "utilization", "success_rate"})
_BENEFIT_NAMES = frozenset({"availability", "success_rate", "goodput"})
_CAP = 5.0  # largest relative constraint violation counted (keeps rewards bounded)


def is_benefit(name: str) -> bool:
    """True when a larger value of metric ``name`` is better."""
    return name.endswith("_rps") or name in _BENEFIT_NAMES


def is_ratio(name: str) -> bool:
    """True when metric ``name`` is a share in [0, 1] (scored linearly)."""
    return name.endswith("_rate") or name in _RATIO_NAMES


@dataclass(frozen=True, slots=True)
class ObjectiveWeights:
    """Penalty weights on top of the spec's objective (dimensionless)."""

    constraint: float = 2.0
    """Per unit of relative constraint violation (10% over a latency bound: 0.2)."""
    errors: float = 10.0
    """Per unit of error rate, when the objective does not weigh ``error_rate``."""
    drops: float = 5.0
    """Per unit of drop rate (requests refused by a full queue: the spec's
    no-loss kind of invariant), when the objective does not weigh ``drop_rate``."""


@dataclass
class TuningObjective:
    """Scores windows of metrics against one UPIR's objective and constraints.

    Args:
        upir: the resource (objective weights, constraints, cost model).
        weights: penalty weights.
        baseline: metric values of the reference window; ``None`` until the
            first call of :meth:`score` (or :meth:`set_baseline`) fixes it.
    """

    upir: UPIR
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    baseline: dict[str, float] | None = None

    def __post_init__(self) -> None:
        raw = self.upir.tuning.objective
        self.objective: dict[str, float] = (
            {k: float(v) for k, v in raw.items()} if raw else dict(DEFAULT_OBJECTIVE)
        )
        self.bounds: dict[str, tuple[float | None, float | None]] = {
            c.key: (
                None if c.min is None else float(c.min),
                None if c.max is None else float(c.max),
            )
            for c in self.upir.specification.constraints
        }

    # -- metrics -------------------------------------------------------------------
    def metric_names(self) -> tuple[str, ...]:
        """The metrics a window is described by: the required ones, then the
        other objective keys (sorted). Fixed for a given spec."""
        extra = sorted(k for k in self.objective if k not in REQUIRED_METRICS)
        return (*REQUIRED_METRICS, *extra)

    def complete(
        self, metrics: Mapping[str, float], params: Mapping[str, Fraction] | None = None
    ) -> dict[str, float]:
        """``metrics`` checked and completed: every required metric must be a
        finite number (else :class:`InvalidSpecError`); ``availability`` and
        ``cost`` are derived when missing (``1 - error_rate``; replicas x
        cost_per_replica over the services, from ``params``)."""
        issues: list[FieldIssue] = []
        out: dict[str, float] = {}
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
                issues.append(FieldIssue(f"metrics.{name}", f"not a number: {value!r}"))
                continue
            v = float(value)
            if not math.isfinite(v):
                issues.append(FieldIssue(f"metrics.{name}", f"not finite: {v}"))
                continue
            out[name] = v
        for name in REQUIRED_METRICS:
            if name not in metrics:
                issues.append(FieldIssue(f"metrics.{name}", "missing"))
        if issues:
            raise InvalidSpecError(issues)
        out.setdefault("availability", 1.0 - out["error_rate"])
        if "cost" not in out and params is not None:
            out["cost"] = self.cost_of(params)
        return out

    def cost_of(self, params: Mapping[str, Fraction]) -> float:
        """``system.cost`` of the model: replicas x cost_per_replica summed over services."""
        values = self.upir.with_params(params).param_values() if params else {}
        if not values:
            values = self.upir.param_values()
        total = Fraction(0)
        for comp in self.upir.architecture.components:
            if comp.type == "service":
                total += values[f"{comp.name}.replicas"] * values[f"{comp.name}.cost_per_replica"]
        return float(total)

    def set_baseline(self, metrics: Mapping[str, float]) -> None:
        self.baseline = {k: float(v) for k, v in metrics.items()}

    # -- scoring ---------------------------------------------------------------------
    def term(self, name: str, value: float) -> float:
        """One metric's unweighted contribution (0 at the baseline)."""
        base = (self.baseline or {}).get(name, value)
        sign = 1.0 if is_benefit(name) else -1.0
        if is_ratio(name):
            return sign * (value - base)
        return sign * (math.log1p(max(value, 0.0)) - math.log1p(max(base, 0.0)))

    def violations(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Relative violation (>= 0, capped at 5) of each constraint a metric
        measures; constraints with nothing to compare against are left out."""
        out: dict[str, float] = {}
        for key, (lo, hi) in self.bounds.items():
            value = metrics.get(key)
            if value is None:
                continue
            amount = 0.0
            if key == "availability":
                # shares: relative to the allowed unavailability (0.99 -> 1%)
                if lo is not None and value < lo:
                    amount = (lo - value) / max(1.0 - lo, 1e-6)
            else:
                if hi is not None and value > hi:
                    amount = (value - hi) / max(abs(hi), 1e-9)
                if lo is not None and value < lo:
                    amount = max(amount, (lo - value) / max(abs(lo), 1e-9))
            out[key] = min(amount, _CAP)
        return out

    def breakdown(
        self, metrics: Mapping[str, float], params: Mapping[str, Fraction] | None = None
    ) -> dict[str, float]:
        """Every weighted part of :meth:`score` (objective terms under their
        names, penalties as ``penalty.<what>``) for reports and tests."""
        m = self.complete(metrics, params)
        if self.baseline is None:
            self.set_baseline(m)
        parts: dict[str, float] = {}
        for name, weight in self.objective.items():
            if name in m:
                parts[name] = weight * self.term(name, m[name])
        for key, amount in self.violations(m).items():
            if amount > 0:
                parts[f"penalty.constraint.{key}"] = -self.weights.constraint * amount
        if "error_rate" not in self.objective and m["error_rate"] > 0:
            parts["penalty.errors"] = -self.weights.errors * m["error_rate"]
        if "drop_rate" not in self.objective and m.get("drop_rate", 0.0) > 0:
            parts["penalty.drops"] = -self.weights.drops * m["drop_rate"]
        return parts

    def score(
        self, metrics: Mapping[str, float], params: Mapping[str, Fraction] | None = None
    ) -> float:
        """The window's score (higher is better; 0 at the baseline without
        penalties). The first call fixes the baseline."""
        return float(sum(self.breakdown(metrics, params).values()))

    # -- checkpoints -------------------------------------------------------------------
    def state(self) -> dict[str, object]:
        return {"baseline": dict(self.baseline) if self.baseline is not None else None}

    def load_state(self, state: Mapping[str, object]) -> None:
        base = state.get("baseline")
        if base is None:
            self.baseline = None
        elif isinstance(base, Mapping):
            self.baseline = {str(k): float(v) for k, v in base.items()}
        else:
            raise ValueError("objective baseline must be a mapping or None")

    def feature(self, name: str, value: float | None) -> float:
        """``value`` of metric ``name`` as a state feature: a share on a log
        scale, anything else as its log-ratio to the baseline (0 when absent)."""
        if value is None:
            return 0.0
        if is_ratio(name):
            # shares are small and matter on a log scale: 0.1% -> 0.1, 100% -> 1
            return 1.0 + math.log10(max(value, 0.0) + 1e-3) / 3.0
        base = (self.baseline or {}).get(name, value)
        return math.log1p(max(value, 0.0)) - math.log1p(max(base, 0.0))

    def slack(self, key: str, m: Mapping[str, float]) -> float:
        """How far ``m`` is inside constraint ``key``, as a share of its bound,
        in [-3, 1] (negative: broken; 0 when the metric is absent)."""
        value = m.get(key)
        lo, hi = self.bounds[key]
        if value is None:
            return 0.0
        margins: list[float] = []
        if key == "availability":
            if lo is not None:
                margins.append((value - lo) / max(1.0 - lo, 1e-6))
        else:
            if hi is not None:
                margins.append((hi - value) / max(abs(hi), 1e-9))
            if lo is not None:
                margins.append((value - lo) / max(abs(lo), 1e-9))
        return max(-3.0, min(1.0, min(margins))) if margins else 0.0
