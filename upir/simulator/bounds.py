"""Measured next to proved: a simulated run against the model's bounds.

:func:`model_bounds` gives, for the UPIR's parameters, the range of every
derived quantity that the verifier's compositional check proves at every
reachable step under the assumptions (the composed component contracts of
docs/model.md section 12, the same computation the verifier runs).
:func:`compare` sets the measured figures of a run beside them and marks each
measured value outside its proved range. What is compared (measured: the
worst window of the run, so a bound broken in one window shows):

| measured | bound |
| --- | --- |
| service p99 latency | ``<s>.latency_ms`` (max) |
| service success share over the run | ``<s>.availability`` (min; beyond only when significant, see :data:`SIGNIFICANCE`) |
| service utilization | ``<s>.utilization`` (max) |
| queue longest length | ``<q>.length`` (max) |
| queue drops per model step | ``<q>.dropped`` (max) |
| queue / batcher p99 wait | ``<c>.wait_ms`` (max) |
| batcher mean batch size | ``<b>.batch_items`` (range) |
| system p99 latency, availability (as for services), lowest throughput, cost | ``system.*`` |

A service's ``latency_ms`` is a p99 bound that includes the wait for a slot
(docs/model.md section 3.1) and is unbounded where the utilization may reach
1; availabilities count shed and dropped requests. Utilizations, queue
lengths and waits, and batch sizes are fluid, mean-rate quantities held
against the worst window, so noise can mark them; ``benchmarks/conformance.py``
measures how often each is beyond (docs/benchmarks.md, *Conformance*).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from upir.core.upir import UPIR
from upir.settings import SolverSettings
from upir.simulator.graph_metrics import GraphWindow

__all__ = ["Check", "compare", "model_bounds"]

Range = tuple[float, float]


def model_bounds(
    upir: UPIR,
    settings: SolverSettings | None = None,
    values: Mapping[str, Fraction] | None = None,
) -> dict[str, Range] | None:
    """``name -> (lo, hi)`` (floats, infinite where unbounded) for every derived
    quantity, or None when the assumptions cannot be bounded (no ranges)."""
    from upir.expr.ast import names
    from upir.verification import contracts
    from upir.verification.structure import Structure

    solver = settings or SolverSettings()
    u = upir.with_params(values) if values else upir
    st = Structure(u.architecture)
    assumptions = u.specification.assumptions
    wanted = set(st.env_domains)
    for a in assumptions:
        wanted |= {n for n in names(a.expr) if n.startswith("env.")}
    boxes = contracts.env_boxes(st, assumptions, wanted, solver)
    if not boxes:
        return None
    by_name = {c.name: c for c in u.architecture.components}
    params = {
        f"{c.name}.{k}": v
        for c in u.architecture.components
        for k, v in c.effective_params().items()
    }

    def contract_of(name: str) -> contracts.ServiceContract:
        s_name, f_name = contracts.service_env(name)
        return contracts.service_contract(
            by_name[name].effective_params(), boxes[s_name], boxes[f_name]
        )

    ranges, _ = contracts.compose(st, params, boxes, contract_of, Fraction(solver.step_ms))
    return {k: (float(iv.lo), float(iv.hi)) for k, iv in ranges.derived.items()}


@dataclass(frozen=True, slots=True)
class Check:
    """One measured figure beside its proved range."""

    component: str
    """A component name, or ``system``."""
    metric: str
    """What was measured (``p99_ms``, ``availability``...)."""
    measured: float
    bound: str
    """The model quantity it is held against (``gateway.latency_ms``)."""
    lo: float
    hi: float
    beyond: bool
    """Measured outside ``[lo, hi]`` (beyond a small tolerance for rounding)."""

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return round(x, 6) if math.isfinite(x) else None

        return {
            "component": self.component,
            "metric": self.metric,
            "measured": num(self.measured),
            "bound": self.bound,
            "lo": num(self.lo),
            "hi": num(self.hi),
            "beyond": self.beyond,
        }


SIGNIFICANCE = 1e-3
"""A failure count is *beyond* a proved availability when a process failing
with the bound's probability would reach it with at most this probability."""


def _significantly_more(failed: int, total: int, p: float) -> bool:
    """Whether ``failed`` failures in ``total`` trials are significantly more
    than probability ``p`` gives: the Chernoff bound ``exp(-n KL(k/n || p))``
    on the one-sided tail is below :data:`SIGNIFICANCE` (an upper bound on the
    p-value, so this never marks by chance more often than that)."""
    if total <= 0:
        return False
    q = failed / total
    if q <= p:
        return False
    if p <= 0.0:
        return True  # any failure is beyond a bound of no failure at all
    if q >= 1.0:
        kl = -math.log(p)
    else:
        kl = q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))
    return total * kl > -math.log(SIGNIFICANCE)


def _worst(xs: Sequence[float], high: bool) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return math.nan
    return max(finite) if high else min(finite)


def compare(
    windows: Sequence[GraphWindow],
    bounds: Mapping[str, Range],
    types: Mapping[str, str],
    step_ms: float,
) -> list[Check]:
    """Measured (worst window) beside proved, per component then system."""
    out: list[Check] = []

    def add(comp: str, metric: str, value: float, bound: str, sense: str) -> None:
        rng = bounds.get(bound)
        if rng is None or not math.isfinite(value):
            return
        lo, hi = rng
        tol = 1e-9 + 1e-6 * max(
            abs(lo) if math.isfinite(lo) else 0, abs(hi) if math.isfinite(hi) else 0
        )
        if sense == "max":
            beyond = value > hi + tol
        elif sense == "min":
            beyond = value < lo - tol
        else:
            beyond = value > hi + tol or value < lo - tol
        out.append(Check(comp, metric, value, bound, lo, hi, beyond))

    def add_rate(comp: str, failed: int, total: int, bound: str) -> None:
        """Availability over the whole run; beyond only when the failures are
        more than chance allows at the bound's failure probability."""
        rng = bounds.get(bound)
        if rng is None or total == 0:
            return
        lo, hi = rng
        out.append(
            Check(
                comp,
                "availability",
                1.0 - failed / total,
                bound,
                lo,
                hi,
                _significantly_more(failed, total, 1.0 - lo),
            )
        )

    def series(name: str, attr: str) -> list[float]:
        return [float(getattr(w.components[name], attr)) for w in windows]

    for name, ctype in types.items():
        if ctype == "service":
            add(name, "p99_ms", _worst(series(name, "p99_ms"), True), f"{name}.latency_ms", "max")
            comps = [w.components[name] for w in windows]
            failed = sum(c.errors + c.dropped + c.shed for c in comps)
            gone = failed + sum(
                round(c.throughput_rps * c_w.system.duration_s)
                for c, c_w in zip(comps, windows, strict=True)
            )
            add_rate(name, failed, gone, f"{name}.availability")
            util = _worst(series(name, "utilization"), True)
            add(name, "utilization", util, f"{name}.utilization", "max")
        elif ctype == "queue":
            longest = _worst(series(name, "max_length"), True)
            add(name, "max_length", longest, f"{name}.length", "max")
            steps = [w.system.duration_s * 1000 / step_ms for w in windows]
            per_step = [d / n for d, n in zip(series(name, "dropped"), steps, strict=True)]
            add(name, "dropped_per_step", _worst(per_step, True), f"{name}.dropped", "max")
            add(name, "p99_ms", _worst(series(name, "p99_ms"), True), f"{name}.wait_ms", "max")
        else:
            add(name, "p99_ms", _worst(series(name, "p99_ms"), True), f"{name}.wait_ms", "max")
            sizes = [
                w.components[name].mean_batch_size for w in windows if w.components[name].batches
            ]
            if sizes:
                mean = sum(sizes) / len(sizes)
                add(name, "mean_batch_size", mean, f"{name}.batch_items", "range")
    system = [w.system for w in windows]
    add("system", "p99_ms", _worst([s.p99_ms for s in system], True), "system.latency_ms", "max")
    failed = sum(s.errors + s.dropped + s.shed for s in system)
    add_rate("system", failed, failed + sum(s.completed for s in system), "system.availability")
    thr = _worst([s.throughput_rps for s in system], False)
    add("system", "throughput_rps", thr, "system.throughput_rps", "min")
    add("system", "cost", system[-1].cost if system else math.nan, "system.cost", "range")
    return out
