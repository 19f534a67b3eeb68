"""Arrival processes of the general simulator, over a :class:`LoadProfile` rate.

``poisson`` (default): a non-homogeneous Poisson process (thinning).
``constant``: evenly spaced, ``1 / rate`` apart. ``mmpp``: a two-state
Markov-modulated Poisson process whose states run at ``2h/(1+h)`` and
``2/(1+h)`` times the profile's rate (``h`` = :attr:`Arrivals.burst_ratio`, so
the mean rate is the profile's), each held for an exponential time of mean
:attr:`Arrivals.switch_s`. ``trace``: recorded arrival times, replayed.
The process keeps its state (the MMPP state, the constant phase) across
windows, so consecutive windows form one run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from upir.errors import FieldIssue, InvalidSpecError
from upir.simulator.load import LoadProfile

__all__ = ["ARRIVAL_KINDS", "ArrivalProcess", "Arrivals", "read_trace"]

ARRIVAL_KINDS = ("poisson", "constant", "mmpp", "trace")
MAX_TRACE = 10_000_000


@dataclass(frozen=True, slots=True)
class Arrivals:
    """How requests arrive."""

    kind: str = "poisson"
    """``poisson`` (default), ``constant``, ``mmpp`` or ``trace``."""
    burst_ratio: float = 4.0
    """MMPP: rate of the busy state over the quiet one (> 1; default 4)."""
    switch_s: float = 1.0
    """MMPP: mean time in one state, s (default 1)."""
    trace_s: tuple[float, ...] = field(default=())
    """Trace: arrival times, seconds since the start (sorted on construction)."""

    def __post_init__(self) -> None:
        issues: list[FieldIssue] = []
        if self.kind not in ARRIVAL_KINDS:
            issues.append(FieldIssue("arrivals", f"must be one of {', '.join(ARRIVAL_KINDS)}"))
        if not (math.isfinite(self.burst_ratio) and self.burst_ratio > 1):
            issues.append(FieldIssue("burst_ratio", "must be a finite number > 1"))
        if not (math.isfinite(self.switch_s) and self.switch_s > 0):
            issues.append(FieldIssue("switch_s", "must be a finite number > 0"))
        if self.kind == "trace" and not self.trace_s:
            issues.append(FieldIssue("trace", "needs at least one arrival time"))
        if any(not (math.isfinite(t) and t >= 0) for t in self.trace_s):
            issues.append(FieldIssue("trace", "arrival times must be finite numbers >= 0"))
        if issues:
            raise InvalidSpecError(issues)
        object.__setattr__(self, "trace_s", tuple(sorted(float(t) for t in self.trace_s)))


def read_trace(path: str | Path) -> tuple[float, ...]:
    """Arrival times from a file: one number (seconds) per line, ``#`` comments;
    a first line that is not a number (a CSV header) is skipped, and of a CSV
    line the first field counts. Errors name the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidSpecError([FieldIssue("--trace", f"cannot read {p}: {err}")]) from None
    out: list[float] = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        first = line.split(",", 1)[0].strip()
        try:
            t = float(first)
        except ValueError:
            if not out and i == 1:
                continue
            raise InvalidSpecError(
                [FieldIssue("--trace", f"{p}:{i}: not a number of seconds: {first[:40]!r}")]
            ) from None
        if not (math.isfinite(t) and t >= 0):
            raise InvalidSpecError([FieldIssue("--trace", f"{p}:{i}: must be >= 0 seconds")])
        out.append(t)
        if len(out) > MAX_TRACE:
            raise InvalidSpecError([FieldIssue("--trace", f"more than {MAX_TRACE} arrivals")])
    if not out:
        raise InvalidSpecError([FieldIssue("--trace", f"{p}: no arrival times")])
    return tuple(out)


class ArrivalProcess:
    """Draws the arrival times of consecutive windows."""

    def __init__(self, arrivals: Arrivals, profile: LoadProfile, rng: np.random.Generator) -> None:
        self.spec = arrivals
        self.profile = profile
        self.rng = rng
        self._next_constant = 0.0  # s: the next constant arrival
        self._busy = False  # MMPP state
        self._switch_at = (
            float(rng.exponential(arrivals.switch_s)) if arrivals.kind == "mmpp" else 0.0
        )
        self._trace = np.asarray(arrivals.trace_s, dtype=np.float64)

    def draw(self, t0: float, t1: float) -> npt.NDArray[np.float64]:
        """Sorted arrival times (s) in ``[t0, t1)``."""
        kind = self.spec.kind
        if kind == "trace":
            lo, hi = np.searchsorted(self._trace, [t0, t1], side="left")
            return self._trace[lo:hi]
        if kind == "constant":
            return self._constant(t0, t1)
        if kind == "mmpp":
            return self._mmpp(t0, t1)
        return self._poisson(t0, t1, 1.0)

    def _poisson(self, t0: float, t1: float, factor: float) -> npt.NDArray[np.float64]:
        rng = self.rng
        lam_max = self.profile.max_rate(t0, t1) * factor
        if lam_max <= 0 or t1 <= t0:
            return np.empty(0)
        n = int(rng.poisson(lam_max * (t1 - t0)))
        times = np.sort(rng.uniform(t0, t1, size=n))
        keep = rng.uniform(0.0, lam_max, size=n) < self.profile.rate(times) * factor
        return np.asarray(times[keep], dtype=np.float64)

    def _constant(self, t0: float, t1: float) -> npt.NDArray[np.float64]:
        out: list[float] = []
        t = max(self._next_constant, t0)
        while t < t1:
            r = float(self.profile.rate(t))
            if r <= 0:
                # no load here: jump to the next breakpoint with load, or past the window
                later = [p for p, rate in self.profile.points if p > t and rate > 0]
                t = later[0] if later else t1
                continue
            out.append(t)
            t += 1.0 / r
        self._next_constant = t
        return np.asarray(out, dtype=np.float64)

    def _mmpp(self, t0: float, t1: float) -> npt.NDArray[np.float64]:
        h = self.spec.burst_ratio
        pieces: list[npt.NDArray[np.float64]] = []
        t = t0
        while t < t1:
            end = min(self._switch_at, t1)
            factor = 2 * h / (1 + h) if self._busy else 2 / (1 + h)
            if end > t:
                pieces.append(self._poisson(t, end, factor))
            t = end
            if self._switch_at <= t1:
                self._busy = not self._busy
                self._switch_at += float(self.rng.exponential(self.spec.switch_s))
        return np.concatenate(pieces) if pieces else np.empty(0)
