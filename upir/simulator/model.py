"""What the simulator is told: the tunable parameters, the service, and the load.

Three frozen dataclasses, each validated on construction. Bad values raise
:class:`upir.errors.InvalidSpecError` naming every offending field, so a caller
(the CLI, the learner) can report them the same way as a bad resource.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from upir.errors import FieldIssue, InvalidSpecError

__all__ = [
    "FIELDS_BY_KEY",
    "PROFILE_KINDS",
    "UPIR_KEYS",
    "LoadProfile",
    "ServiceModel",
    "WorkloadParams",
]

PROFILE_KINDS = ("steady", "shift", "ramp")
"""The shapes :meth:`LoadProfile.shaped` makes."""

# Sanity ceilings, the same as the reference workload's (refworkload/params.py):
# they keep one simulated window bounded in time and memory.
MAX_POOL = 20_000
MAX_QUEUE = 10_000_000
MAX_RPS = 100_000.0
MAX_RETRIES = 20
MAX_MS = 600_000.0


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v: object) -> bool:
    return _is_number(v) and float(v).is_integer()  # type: ignore[arg-type]


# field -> (UPIR key, whole number?, lowest, highest)
_PARAM_RULES: dict[str, tuple[str, bool, float, float]] = {
    "gateway_timeout_ms": ("gateway.timeout_ms", False, 1.0, MAX_MS),
    "gateway_retries": ("gateway.retries", True, 0, MAX_RETRIES),
    "gateway_concurrency": ("gateway.concurrency", True, 1, 10_000),
    "gateway_replicas": ("gateway.replicas", True, 1, 1_000),
    "orders_capacity": ("orders.capacity", True, 1, MAX_QUEUE),
    "batcher_batch_size": ("batcher.batch_size", True, 1, 100_000),
    "batcher_flush_ms": ("batcher.flush_ms", False, 0.0, MAX_MS),
    "worker_concurrency": ("worker.concurrency", True, 1, 10_000),
    "worker_replicas": ("worker.replicas", True, 1, 1_000),
}

UPIR_KEYS: Mapping[str, str] = {field: rule[0] for field, rule in _PARAM_RULES.items()}
"""Field name -> the UPIR parameter name (``<component>.<param>``) it stands for."""

FIELDS_BY_KEY: Mapping[str, str] = {key: field for field, key in UPIR_KEYS.items()}
"""UPIR parameter name -> field name."""


@dataclass(frozen=True, slots=True)
class WorkloadParams:
    """The tunable parameters of the reference workload.

    Field names and defaults are those of ``refworkload.params.Params``; each
    stands for the UPIR parameter in :data:`UPIR_KEYS` (``gateway_timeout_ms``
    is ``gateway.timeout_ms``). Whole-number fields accept int-valued floats
    (JSON numbers such as ``3.0``) and store them as ``int``.
    """

    gateway_timeout_ms: float = 500.0
    """Per-attempt timeout of the gateway's downstream call, ms (1..600000). An
    attempt not answered in time is abandoned and retried; its work carries on."""
    gateway_retries: int = 1
    """Retries after a timed-out or failed attempt (0..20), without backoff."""
    gateway_concurrency: int = 64
    """Requests one gateway replica serves at once (1..10000)."""
    gateway_replicas: int = 2
    """Gateway replicas (1..1000); requests beyond all slots wait in line."""
    orders_capacity: int = 200
    """Items the orders queue holds (1..10^7); an attempt that finds it full
    ends its request as *dropped* (503, not retried)."""
    batcher_batch_size: int = 4
    """Largest number of items a worker takes at once (1..100000)."""
    batcher_flush_ms: float = 5.0
    """Longest wait of the oldest queued item before a partial batch leaves, ms."""
    worker_concurrency: int = 2
    """Batches one worker replica processes at once (1..10000)."""
    worker_replicas: int = 2
    """Worker replicas (1..1000)."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        for name, (key, whole, lo, hi) in _PARAM_RULES.items():
            value = getattr(self, name)
            if not (_whole(value) if whole else _is_number(value)):
                kind = "a whole number" if whole else "a finite number"
                issues.append(FieldIssue(key, f"must be {kind}, got {value!r}"))
            elif not lo <= value <= hi:
                issues.append(FieldIssue(key, f"must be between {lo:g} and {hi:g}, got {value!r}"))
            else:
                object.__setattr__(self, name, int(value) if whole else float(value))
        if not issues:
            for pool in ("gateway", "worker"):
                if getattr(self, f"{pool}_slots") > MAX_POOL:
                    issues.append(
                        FieldIssue(
                            f"{pool}.concurrency", f"replicas x concurrency must be <= {MAX_POOL}"
                        )
                    )
        if issues:
            raise InvalidSpecError(issues)

    @property
    def gateway_slots(self) -> int:
        """Requests served at once by all gateway replicas."""
        return self.gateway_concurrency * self.gateway_replicas

    @property
    def worker_slots(self) -> int:
        """Batches processed at once by all worker replicas."""
        return self.worker_concurrency * self.worker_replicas

    def as_dict(self) -> dict[str, float | int]:
        """Values under their field names."""
        return asdict(self)

    def as_upir(self) -> dict[str, float | int]:
        """Values under their UPIR parameter names (``gateway.timeout_ms``...)."""
        return {UPIR_KEYS[name]: value for name, value in asdict(self).items()}

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: WorkloadParams | None = None
    ) -> WorkloadParams:
        """Build from field names or UPIR names (mixed is fine); missing ones come
        from ``base`` (default: the defaults). Unknown names are an error."""
        current: dict[str, Any] = dict((base if base is not None else cls()).as_dict())
        unknown: list[str] = []
        for name, value in values.items():
            field = name if name in _PARAM_RULES else FIELDS_BY_KEY.get(name)
            if field is None:
                unknown.append(name)
            else:
                current[field] = value
        if unknown:
            raise InvalidSpecError(
                [FieldIssue(n, "unknown workload parameter") for n in sorted(unknown)]
            )
        return cls(**current)


@dataclass(frozen=True, slots=True)
class ServiceModel:
    """How the worker stage behaves (the environment; not tunable).

    Defaults are the reference workload's ``DownstreamModel``. A batch of ``k``
    items takes ``overhead_ms * LogNormal(0, sigma) + per_item_ms * k +
    Exponential(mean jitter_ms)`` milliseconds, so batching amortises the
    overhead; ``sigma`` = 0 (the default) is the reference workload's model.
    With ``cores`` set, a worker replica has that many CPUs: a batch that
    starts while ``a`` batches (itself included) run on its replica is
    stretched by ``max(1, a / cores)`` (processor sharing, fixed at the start),
    so concurrency beyond ``cores`` adds latency instead of throughput. The
    reference workload sleeps instead of computing, so its default is None.
    """

    overhead_ms: float = 20.0
    """Fixed cost of one batch, ms (>= 0; its median when ``sigma`` > 0)."""
    per_item_ms: float = 5.0
    """Extra time per item in a batch, ms (>= 0)."""
    jitter_ms: float = 5.0
    """Mean of the exponential jitter added to each batch, ms (>= 0)."""
    sigma: float = 0.0
    """Lognormal spread of the fixed cost (0..3; 0 = constant)."""
    failure_rate: float = 0.001
    """Probability one item fails (answered with an error), in [0, 1)."""
    cores: int | None = None
    """CPUs per worker replica (>= 1), or None for no CPU contention."""
    gateway_cost_per_replica: float = 1.0
    """Cost units of one gateway replica (``cost_per_replica`` in the catalogue)."""
    worker_cost_per_replica: float = 1.0
    """Cost units of one worker replica."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        # (field, low, high, high included?)
        checks = (
            ("overhead_ms", 0.0, MAX_MS, True),
            ("per_item_ms", 0.0, MAX_MS, True),
            ("jitter_ms", 0.0, MAX_MS, True),
            ("sigma", 0.0, 3.0, True),
            ("failure_rate", 0.0, 1.0, False),
            ("gateway_cost_per_replica", 0.0, math.inf, False),
            ("worker_cost_per_replica", 0.0, math.inf, False),
        )
        for name, lo, hi, hi_in in checks:
            value = getattr(self, name)
            ok = _is_number(value) and lo <= value and (value <= hi if hi_in else value < hi)
            if not ok:
                upper = f"{hi:g}]" if hi_in else f"{hi:g})"
                issues.append(
                    FieldIssue(name, f"must be a number in [{lo:g}, {upper}, got {value!r}")
                )
        if self.cores is not None:
            if not _whole(self.cores) or not 1 <= self.cores <= 10_000:
                issues.append(
                    FieldIssue("cores", f"must be None or a whole number >= 1, got {self.cores!r}")
                )
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

    Like the reference load generator the clients hold at most
    ``max_inflight`` requests open; an arrival beyond that is *skipped*: never
    sent, so it never reaches the gateway's request counter.
    """

    points: tuple[tuple[float, float], ...]
    burst_mean: float = 1.0
    name: str = "custom"
    max_inflight: int = 512

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
        if not _whole(self.max_inflight) or not 1 <= self.max_inflight <= 1_000_000:
            issues.append(FieldIssue("max_inflight", "must be a whole number in [1, 1000000]"))
        if issues:
            raise InvalidSpecError(issues)
        object.__setattr__(self, "points", tuple((float(t), float(r)) for t, r in pts))
        object.__setattr__(self, "max_inflight", int(self.max_inflight))

    @classmethod
    def steady(cls, rps: float, burst_mean: float = 1.0, max_inflight: int = 512) -> LoadProfile:
        """A constant rate."""
        return cls(((0.0, rps),), burst_mean, "steady", max_inflight)

    @classmethod
    def step(
        cls,
        before_rps: float,
        after_rps: float,
        at_s: float,
        burst_mean: float = 1.0,
        max_inflight: int = 512,
    ) -> LoadProfile:
        """``before_rps`` until ``at_s``, then ``after_rps``."""
        return cls(((at_s, before_rps), (at_s, after_rps)), burst_mean, "step", max_inflight)

    @classmethod
    def ramp(
        cls,
        from_rps: float,
        to_rps: float,
        start_s: float,
        end_s: float,
        burst_mean: float = 1.0,
        max_inflight: int = 512,
    ) -> LoadProfile:
        """``from_rps`` until ``start_s``, linearly to ``to_rps`` at ``end_s``, then flat."""
        return cls(((start_s, from_rps), (end_s, to_rps)), burst_mean, "ramp", max_inflight)

    @classmethod
    def shaped(cls, kind: str, rps: float, peak_rps: float, total_s: float) -> LoadProfile:
        """The command line's profiles over a run of ``total_s`` seconds:
        ``steady``: ``rps`` throughout; ``shift``: ``rps`` for the first half,
        then ``peak_rps``; ``ramp``: ``rps`` for the first quarter, rising
        linearly to ``peak_rps`` at three quarters, then flat."""
        if kind == "steady":
            return cls.steady(rps)
        if kind == "shift":
            return cls.step(rps, peak_rps, total_s / 2)
        if kind == "ramp":
            return cls.ramp(rps, peak_rps, total_s / 4, 3 * total_s / 4)
        raise InvalidSpecError(
            [FieldIssue("profile", f"unknown profile {kind!r}; use {PROFILE_KINDS}")]
        )

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
