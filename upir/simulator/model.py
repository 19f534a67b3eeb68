"""What the simulator is told: the tunable parameters, the service, and the load.

Three frozen dataclasses, each validated on construction. Bad values raise
:class:`upir.errors.InvalidSpecError` naming every offending field, so a caller
(the CLI, the learner) can report them the same way as a bad resource.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from upir.errors import FieldIssue, InvalidSpecError

__all__ = ["LoadProfile", "ServiceModel", "WorkloadParams"]

# Sanity ceilings: they keep one simulated window bounded in time and memory,
# and are far above anything the reference workload uses.
MAX_WORKERS = 10_000
MAX_QUEUE = 10_000_000
MAX_RPS = 100_000.0
MAX_RETRIES = 20


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v: object) -> bool:
    return _is_number(v) and float(v).is_integer()  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    """The tunable parameters of the reference workload.

    Integer fields accept int-valued floats (JSON numbers such as ``3.0``) and
    store them as ``int``. Defaults are the catalogue's component defaults.
    """

    timeout_ms: float = 1000.0
    """Per-attempt timeout of the gateway, ms (> 0). An attempt not answered in
    time is abandoned by the caller and retried; the work itself carries on."""
    retries: int = 0
    """Retries after a timed-out or failed attempt (0..20)."""
    queue_capacity: int = 1000
    """Attempts the downstream queue holds (>= 1); an attempt that finds it full
    is dropped and its request fails as *dropped* (HTTP 503, not retried)."""
    batch_size: int = 1
    """Largest number of attempts a worker takes at once (>= 1)."""
    flush_ms: float = 0.0
    """Longest time the oldest queued attempt waits for a batch to fill before
    a partial batch leaves, ms (>= 0); only matters when ``batch_size`` > 1."""
    concurrency: int = 1
    """Batches one replica works on at once (>= 1)."""
    replicas: int = 1
    """Instances of the downstream service (>= 1)."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        ints = {
            "retries": (0, MAX_RETRIES),
            "queue_capacity": (1, MAX_QUEUE),
            "batch_size": (1, MAX_QUEUE),
            "concurrency": (1, MAX_WORKERS),
            "replicas": (1, MAX_WORKERS),
        }
        for name, (lo, hi) in ints.items():
            value = getattr(self, name)
            if not _whole(value):
                issues.append(FieldIssue(name, f"must be a whole number, got {value!r}"))
            elif not lo <= value <= hi:
                issues.append(FieldIssue(name, f"must be between {lo} and {hi}, got {value!r}"))
            else:
                object.__setattr__(self, name, int(value))
        for name, lo_open in (("timeout_ms", True), ("flush_ms", False)):
            value = getattr(self, name)
            if not _is_number(value):
                issues.append(FieldIssue(name, f"must be a finite number, got {value!r}"))
            elif (value <= 0) if lo_open else (value < 0):
                bound = "> 0" if lo_open else ">= 0"
                issues.append(FieldIssue(name, f"must be {bound}, got {value!r}"))
            else:
                object.__setattr__(self, name, float(value))
        if not issues and self.concurrency * self.replicas > MAX_WORKERS:
            issues.append(
                FieldIssue("concurrency", f"concurrency x replicas must be <= {MAX_WORKERS}")
            )
        if issues:
            raise InvalidSpecError(issues)

    @property
    def workers(self) -> int:
        """Worker slots in total: ``concurrency * replicas``."""
        return self.concurrency * self.replicas

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> WorkloadParams:
        """Build from a mapping of field names; unknown names are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidSpecError([FieldIssue(n, "unknown workload parameter") for n in unknown])
        return cls(**dict(values))


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """How the downstream service behaves (the environment; not tunable).

    A batch of ``k`` attempts takes ``base_ms * LogNormal(0, sigma) +
    per_item_ms * k`` milliseconds on an idle replica, so batching amortises
    the fixed overhead. A replica has ``cores`` CPUs: with ``a`` batches
    running on it, a new batch's time is stretched by ``max(1, a / cores)``
    (processor sharing, evaluated when the batch starts), so concurrency above
    ``cores`` adds latency instead of throughput.
    """

    base_ms: float = 8.0
    """Median fixed cost of one batch, ms (> 0)."""
    sigma: float = 0.5
    """Shape of the lognormal spread of the fixed cost (>= 0; 0 = constant)."""
    per_item_ms: float = 1.5
    """Extra time per attempt in a batch, ms (>= 0)."""
    failure_prob: float = 0.005
    """Probability one attempt fails (answered with an error), in [0, 1)."""
    cores: int = 4
    """Batches a replica runs at full speed at once (>= 1)."""
    cost_per_replica: float = 1.0
    """Cost units one replica costs (matches ``cost_per_replica`` in the catalogue)."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        # (field, low, high, low included?, high included?, text)
        checks = (
            ("base_ms", 0.0, math.inf, False, False, "> 0"),
            ("sigma", 0.0, 3.0, True, True, "in [0, 3]"),
            ("per_item_ms", 0.0, math.inf, True, False, ">= 0"),
            ("failure_prob", 0.0, 1.0, True, False, "in [0, 1)"),
            ("cost_per_replica", 0.0, math.inf, True, False, ">= 0"),
        )
        for name, lo, hi, lo_in, hi_in, text in checks:
            value = getattr(self, name)
            ok = _is_number(value) and (lo <= value if lo_in else lo < value)
            ok = ok and (value <= hi if hi_in else value < hi)
            if not ok:
                issues.append(FieldIssue(name, f"must be a finite number {text}, got {value!r}"))
        if not _whole(self.cores) or not 1 <= self.cores <= MAX_WORKERS:
            issues.append(FieldIssue("cores", f"must be a whole number >= 1, got {self.cores!r}"))
        else:
            object.__setattr__(self, "cores", int(self.cores))
        if issues:
            raise InvalidSpecError(issues)


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """Offered load over time: a piecewise-linear arrival rate, possibly bursty.

    ``points`` are ``(time_s, rps)`` pairs with non-decreasing times; the rate
    is interpolated linearly between them and constant before the first and
    after the last. Two points at the same time make a step. Arrivals come as
    a Poisson process of *bursts* at rate ``rps / burst_mean``; each burst
    brings a geometric number of requests with mean ``burst_mean`` (1 gives a
    plain Poisson stream). Times are seconds since the simulator started.
    """

    points: tuple[tuple[float, float], ...]
    burst_mean: float = 1.0
    name: str = "custom"

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        pts = tuple((p[0], p[1]) for p in self.points) if self.points else ()
        if not pts:
            issues.append(FieldIssue("points", "needs at least one (time_s, rps) point"))
        for i, (t, r) in enumerate(pts):
            if not _is_number(t) or t < 0:
                issues.append(FieldIssue(f"points[{i}]", f"time must be >= 0, got {t!r}"))
            if not _is_number(r) or not 0 <= r <= MAX_RPS:
                issues.append(FieldIssue(f"points[{i}]", f"rps must be in [0, {MAX_RPS}]"))
        if not issues and any(b[0] < a[0] for a, b in zip(pts, pts[1:], strict=False)):
            issues.append(FieldIssue("points", "times must be non-decreasing"))
        if not _is_number(self.burst_mean) or not 1 <= self.burst_mean <= 1000:
            issues.append(FieldIssue("burst_mean", "must be a number in [1, 1000]"))
        if issues:
            raise InvalidSpecError(issues)
        object.__setattr__(self, "points", tuple((float(t), float(r)) for t, r in pts))

    @classmethod
    def steady(cls, rps: float, burst_mean: float = 1.0) -> LoadProfile:
        """A constant rate."""
        return cls(((0.0, rps),), burst_mean, "steady")

    @classmethod
    def step(
        cls, before_rps: float, after_rps: float, at_s: float, burst_mean: float = 1.0
    ) -> LoadProfile:
        """``before_rps`` until ``at_s``, then ``after_rps``."""
        return cls(((at_s, before_rps), (at_s, after_rps)), burst_mean, "step")

    @classmethod
    def ramp(
        cls,
        from_rps: float,
        to_rps: float,
        start_s: float,
        end_s: float,
        burst_mean: float = 1.0,
    ) -> LoadProfile:
        """``from_rps`` until ``start_s``, linearly to ``to_rps`` at ``end_s``, then flat."""
        return cls(((start_s, from_rps), (end_s, to_rps)), burst_mean, "ramp")

    def rate(self, t_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Arrival rate (requests/s) at times ``t_s`` (seconds)."""
        t = np.asarray(t_s, dtype=np.float64)
        xs = np.array([p[0] for p in self.points])
        ys = np.array([p[1] for p in self.points])
        # Segment j spans xs[j-1]..xs[j]; side="right" puts a time exactly at a
        # step onto the step's later value.
        j = np.searchsorted(xs, t, side="right")
        out = np.where(j == 0, ys[0], ys[np.minimum(j, len(ys)) - 1])
        inner = (j > 0) & (j < len(xs))
        if inner.any():
            jj = j[inner]
            x0, x1, y0, y1 = xs[jj - 1], xs[jj], ys[jj - 1], ys[jj]
            span = x1 - x0
            frac = np.where(span > 0, (t[inner] - x0) / np.where(span > 0, span, 1.0), 1.0)
            out = out.astype(np.float64)
            out[inner] = y0 + frac * (y1 - y0)
        return np.asarray(out, dtype=np.float64)

    def max_rate(self, t0_s: float, t1_s: float) -> float:
        """Largest rate on ``[t0_s, t1_s]`` (piecewise linear: ends or breakpoints)."""
        candidates = [t0_s, t1_s] + [t for t, _ in self.points if t0_s <= t <= t1_s]
        rates = self.rate(np.array(candidates))
        # a step inside the interval: both sides of it count
        inside = [r for t, r in self.points if t0_s <= t <= t1_s]
        return float(max(float(rates.max()), max(inside, default=0.0)))

    def mean_rate(self, t0_s: float, t1_s: float, samples: int = 257) -> float:
        """Average rate on ``[t0_s, t1_s]`` (trapezoid rule), requests/s."""
        if t1_s <= t0_s:
            return float(self.rate(t0_s))
        ts = np.linspace(t0_s, t1_s, samples)
        return float(np.trapezoid(self.rate(ts), ts) / (t1_s - t0_s))
