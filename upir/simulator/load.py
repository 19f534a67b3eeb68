"""Offered load over time for the simulator: :class:`LoadProfile`.

Validated on construction: bad values raise :class:`upir.errors.InvalidSpecError`
naming every offending field, so a caller (the CLI, the learner) can report them
the same way as a bad resource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from upir.errors import FieldIssue, InvalidSpecError

__all__ = ["MAX_RPS", "PROFILE_KINDS", "LoadProfile"]

PROFILE_KINDS = ("steady", "shift", "ramp")
"""The shapes :meth:`LoadProfile.shaped` makes."""

MAX_RPS = 100_000.0
"""Highest rate a profile may ask for, requests/s (keeps a window bounded)."""


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v: object) -> bool:
    return _is_number(v) and float(v).is_integer()  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """Offered load over time: a piecewise-linear arrival rate.

    ``points`` are ``(time_s, rps)`` pairs with non-decreasing times; the rate
    is interpolated linearly between them and constant before the first and
    after the last. Two points at the same time make a step. How requests
    arrive at that rate (Poisson, evenly spaced, in bursts, a trace) is the
    simulator's :class:`~upir.simulator.arrivals.Arrivals`. Times are seconds
    since the simulator started.

    ``max_inflight``: the reference load generator's clients hold at most that
    many requests open; an arrival beyond it is *skipped* (never sent). The
    reference workload's instance applies it
    (:class:`~upir.tuning.simulated.SimulatedWorkload`).
    """

    points: tuple[tuple[float, float], ...]
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
        if not _whole(self.max_inflight) or not 1 <= self.max_inflight <= 1_000_000:
            issues.append(FieldIssue("max_inflight", "must be a whole number in [1, 1000000]"))
        if issues:
            raise InvalidSpecError(issues)
        object.__setattr__(self, "points", tuple((float(t), float(r)) for t, r in pts))
        object.__setattr__(self, "max_inflight", int(self.max_inflight))

    @classmethod
    def steady(cls, rps: float, max_inflight: int = 512) -> LoadProfile:
        """A constant rate."""
        return cls(((0.0, rps),), "steady", max_inflight)

    @classmethod
    def step(
        cls,
        before_rps: float,
        after_rps: float,
        at_s: float,
        max_inflight: int = 512,
    ) -> LoadProfile:
        """``before_rps`` until ``at_s``, then ``after_rps``."""
        return cls(((at_s, before_rps), (at_s, after_rps)), "step", max_inflight)

    @classmethod
    def ramp(
        cls,
        from_rps: float,
        to_rps: float,
        start_s: float,
        end_s: float,
        max_inflight: int = 512,
    ) -> LoadProfile:
        """``from_rps`` until ``start_s``, linearly to ``to_rps`` at ``end_s``, then flat."""
        return cls(((start_s, from_rps), (end_s, to_rps)), "ramp", max_inflight)

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
