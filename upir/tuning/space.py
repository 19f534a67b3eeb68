"""The action space of the tuner: one small move per tunable parameter.

Each parameter gets a head with three actions, DOWN, KEEP and UP. A move changes
the value by ``delta``, the largest multiple of the parameter's grid unit that is
at most ``tuning.maxStepFraction`` times the current value, but never less than
one grid unit (otherwise a parameter at 0, or at a value smaller than
``1 / maxStepFraction`` grid units, could never move: retries 1 -> 2 is a 100%
change). The grid unit is the domain's ``step``; without one it is 1 for whole
numbers and ``(max - min) / 64`` rounded down to a 1-2-5 number for
continuous parameters. The result is
snapped onto the grid ``min + k * unit`` (the nearest grid point in the move's
direction) and clamped into ``[min, max]``. A move that would leave the domain,
or change nothing, is masked out: the policy cannot choose it.

Positions are encoded in [-1, 1] within the domain, on a log scale for domains
spanning a factor of 10 or more with ``min > 0`` (a 25% move is then the same
distance anywhere in the domain).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch

from upir.core.specification import ParameterDomain
from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError
from upir.tuning.rl.policy import DOWN, KEEP, UP

__all__ = ["ParameterSpace", "ParamAxis"]

_CONTINUOUS_DIVISIONS = 64


def _floor(x: Fraction) -> int:
    return math.floor(x)


def _ceil(x: Fraction) -> int:
    return math.ceil(x)


@dataclass(frozen=True, slots=True)
class ParamAxis:
    """One tunable parameter: its domain, grid unit and encoding."""

    domain: ParameterDomain
    unit: Fraction
    log_scale: bool

    @property
    def name(self) -> str:
        return self.domain.name

    @property
    def lo(self) -> Fraction:
        """Smallest grid value (the domain's min)."""
        return self.domain.min

    @property
    def hi(self) -> Fraction:
        """Largest grid value that does not exceed the domain's max."""
        k = _floor((self.domain.max - self.domain.min) / self.unit)
        return self.domain.min + k * self.unit

    def snap_down(self, x: Fraction) -> Fraction:
        """Largest grid value <= x (clamped into the grid)."""
        k = _floor((x - self.lo) / self.unit)
        return min(max(self.lo + k * self.unit, self.lo), self.hi)

    def snap_up(self, x: Fraction) -> Fraction:
        """Smallest grid value >= x (clamped into the grid)."""
        k = _ceil((x - self.lo) / self.unit)
        return min(max(self.lo + k * self.unit, self.lo), self.hi)

    def delta(self, value: Fraction, fraction: Fraction) -> Fraction:
        """The size of one move from ``value``: a whole number of grid units,
        at most ``fraction * |value|`` but at least one unit."""
        units = _floor(abs(value) * fraction / self.unit)
        return max(units, 1) * self.unit

    def moved(self, value: Fraction, action: int, fraction: Fraction) -> Fraction | None:
        """The value after ``action`` (DOWN, KEEP, UP), or None when the move
        is impossible (it would leave the domain or change nothing)."""
        if action == KEEP:
            return value
        return _moved(self, value, action, fraction)

    def _move(self, value: Fraction, action: int, fraction: Fraction) -> Fraction | None:
        d = self.delta(value, fraction)
        if action == UP:
            target = self.snap_down(value + d)
            if target <= value:
                target = self.snap_up(value + self.unit / 2)
            ok = target > value and target <= self.hi
        elif action == DOWN:
            target = self.snap_up(value - d)
            if target >= value:
                target = self.snap_down(value - self.unit / 2)
            ok = target < value and target >= self.lo
        else:
            raise ValueError(f"unknown action {action}")
        if not ok or not self.domain.contains(target):
            return None
        return target

    def position(self, value: Fraction) -> float:
        """``value`` mapped to [-1, 1] (beyond for values outside the domain)."""
        lo, hi = float(self.domain.min), float(self.domain.max)
        v = float(value)
        if hi <= lo:
            return 0.0
        if self.log_scale:
            lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, float(self.domain.min) / 2))
        return max(-3.0, min(3.0, 2.0 * (v - lo) / (hi - lo) - 1.0))


@functools.lru_cache(maxsize=65536)
def _moved(axis: ParamAxis, value: Fraction, action: int, fraction: Fraction) -> Fraction | None:
    """Memoised :meth:`ParamAxis._move` (exact rational arithmetic is slow, and a
    tuner asks about the same few values over and over)."""
    return axis._move(value, action, fraction)


def _nice(raw: Fraction) -> Fraction:
    """The largest 1-2-5 number (..., 0.5, 1, 2, 5, 10, ...) not above ``raw``
    (``raw`` itself when it is not positive), so continuous grids have round values."""
    if raw <= 0:
        return raw
    exp = math.floor(math.log10(raw))
    base = Fraction(10) ** exp
    for m in (5, 2, 1):
        if m * base <= raw:
            return m * base
    return base / 2  # log10 rounding put raw just below 10**exp


def _axis(domain: ParameterDomain) -> ParamAxis:
    if domain.step is not None:
        unit = domain.step
    elif domain.integer:
        unit = Fraction(1)
    else:
        unit = _nice((domain.max - domain.min) / _CONTINUOUS_DIVISIONS)
    if unit <= 0:
        # a one-point domain: any positive unit works, no move is ever allowed
        unit = Fraction(1)
    log_scale = domain.min > 0 and domain.max >= 10 * domain.min
    return ParamAxis(domain, unit, log_scale)


class ParameterSpace:
    """The tunable parameters of a UPIR as a DOWN/KEEP/UP action space.

    Args:
        upir: the resource; its ``spec.parameters`` (in declaration order) are
            the heads and ``tuning.maxStepFraction`` bounds each move.
    """

    def __init__(self, upir: UPIR) -> None:
        if not upir.parameters:
            raise InvalidSpecError(
                [FieldIssue("spec.parameters", "declares no tunable parameter: nothing to tune")]
            )
        self.axes: tuple[ParamAxis, ...] = tuple(_axis(d) for d in upir.parameters)
        self.names: tuple[str, ...] = tuple(a.name for a in self.axes)
        self.fraction: Fraction = upir.tuning.max_step_fraction

    def __len__(self) -> int:
        return len(self.axes)

    @property
    def action_dims(self) -> tuple[int, ...]:
        return (3,) * len(self.axes)

    def values_of(self, params: Mapping[str, Fraction]) -> list[Fraction]:
        """The tunable values in head order (InvalidSpecError when one is missing)."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise InvalidSpecError([FieldIssue(f"parameters.{n}", "missing") for n in missing])
        return [Fraction(params[n]) for n in self.names]

    def encode(self, params: Mapping[str, Fraction]) -> list[float]:
        """Positions of the tunable values, each in [-1, 1] inside the domain."""
        return [a.position(v) for a, v in zip(self.axes, self.values_of(params), strict=True)]

    def mask(self, params: Mapping[str, Fraction]) -> torch.Tensor:
        """(n_heads, 3) booleans: which moves stay inside each domain's grid."""
        values = self.values_of(params)
        out = torch.zeros(len(self.axes), 3, dtype=torch.bool)
        for h, (axis, v) in enumerate(zip(self.axes, values, strict=True)):
            out[h, KEEP] = True
            out[h, DOWN] = axis.moved(v, DOWN, self.fraction) is not None
            out[h, UP] = axis.moved(v, UP, self.fraction) is not None
        return out

    def decode(
        self, params: Mapping[str, Fraction], action: Sequence[int] | torch.Tensor
    ) -> dict[str, Fraction]:
        """The tunable values after one joint action (one move per head).

        A masked (impossible) move raises ``ValueError``: the policy samples
        under :meth:`mask`, so this only happens on a caller's mistake."""
        acts = [int(a) for a in (action.tolist() if isinstance(action, torch.Tensor) else action)]
        if len(acts) != len(self.axes):
            raise ValueError(f"expected {len(self.axes)} actions, got {len(acts)}")
        out: dict[str, Fraction] = {}
        for axis, v, a in zip(self.axes, self.values_of(params), acts, strict=True):
            moved = axis.moved(v, a, self.fraction)
            if moved is None:
                raise ValueError(f"move {a} of {axis.name} from {v} leaves its domain")
            out[axis.name] = moved
        return out
