"""Sketches: a UPIR whose tunable parameters are typed holes.

Every ``spec.parameters`` entry becomes a :class:`Hole` with its domain: the
values ``min + k*step`` (k = 0, 1, ...) up to ``max`` when a step is given,
every whole number in ``[min, max]`` for integer parameters without a step, and
every real number in ``[min, max]`` otherwise. Parameters without a hole keep
the value the resource gives them (or the catalogue default).

Building a sketch checks what synthesis needs beyond what the loader already
checked, and raises :class:`~upir.errors.InvalidSpecError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from upir.core.catalog import COMPONENT_TYPES
from upir.core.specification import ParameterDomain
from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError

MAX_RETRIES_VALUES = 64
"""Most values a ``retries`` hole may take: the model raises failure
probabilities to the power ``retries + 1``, which the encoding spells out per
value."""


@dataclass(frozen=True, slots=True)
class Hole:
    """One tunable parameter and its domain.

    ``step`` is the grid step (1 for integer parameters without one; ``None``
    for a continuous real domain). ``current`` is the value the resource gives
    (or the catalogue default); it may lie outside the domain."""

    name: str
    min: Fraction
    max: Fraction
    step: Fraction | None
    integer: bool
    current: Fraction

    @property
    def component(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def param(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def discrete(self) -> bool:
        return self.step is not None

    @property
    def size(self) -> int | None:
        """Number of values; ``None`` for a continuous domain."""
        if self.step is None:
            return None
        return int((self.max - self.min) // self.step) + 1

    @property
    def top(self) -> Fraction:
        """The largest value of the domain (the last grid point for a grid)."""
        if self.step is None:
            return self.max
        return self.min + self.step * ((self.max - self.min) // self.step)

    @property
    def span(self) -> Fraction:
        """``top - min``, or 1 when the domain is a single value (a scale for
        the change objective, so every hole weighs the same)."""
        width = self.top - self.min
        return width if width > 0 else Fraction(1)

    def contains(self, value: Fraction) -> bool:
        if value < self.min or value > self.max:
            return False
        if self.integer and value.denominator != 1:
            return False
        if self.step is not None:
            return ((value - self.min) / self.step).denominator == 1
        return True

    def values(self) -> Iterator[Fraction]:
        """Every value of a discrete domain, ascending."""
        if self.step is None:
            raise ValueError(f"{self.name} has a continuous domain")
        for k in range(self.size or 0):
            yield self.min + self.step * k

    def nearest(self, value: Fraction) -> Fraction:
        """The domain value closest to ``value`` (ties go down)."""
        clipped = min(max(value, self.min), self.top)
        if self.step is None:
            return clipped
        k = (clipped - self.min) / self.step
        lo = self.min + self.step * math.floor(k)
        hi = min(lo + self.step, self.top)
        return lo if clipped - lo <= hi - clipped else hi

    def describe(self) -> str:
        """The domain for humans: ``gateway.timeout_ms in [50, 2000] (step 10)``."""
        text = f"{self.name} in [{_num(self.min)}, {_num(self.max)}]"
        if self.step is not None and not (self.integer and self.step == 1):
            text += f" (step {_num(self.step)})"
        return text


def _num(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


@dataclass(frozen=True, slots=True)
class Sketch:
    """The UPIR with holes. ``fixed`` holds every other parameter's value."""

    upir: UPIR
    holes: tuple[Hole, ...]
    fixed: Mapping[str, Fraction]

    @classmethod
    def from_upir(cls, upir: UPIR) -> Sketch:
        """Raises :class:`InvalidSpecError` when a domain cannot be synthesized
        over (no such parameter, an empty domain, a ``retries`` domain with more
        than :data:`MAX_RETRIES_VALUES` values)."""
        values = upir.param_values()
        issues: list[FieldIssue] = []
        holes: list[Hole] = []
        for i, dom in enumerate(upir.parameters):
            field = f"spec.parameters[{i}]"
            hole = _hole(dom, values, field, upir, issues)
            if hole is not None:
                holes.append(hole)
        if issues:
            raise InvalidSpecError(issues)
        names = {h.name for h in holes}
        fixed = {k: v for k, v in values.items() if k not in names}
        return cls(upir, tuple(holes), MappingProxyType(fixed))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.holes)

    def hole(self, name: str) -> Hole:
        for h in self.holes:
            if h.name == name:
                return h
        raise KeyError(name)

    def current(self) -> dict[str, Fraction]:
        return {h.name: h.current for h in self.holes}

    def grid_size(self) -> int | None:
        """Number of points of the whole domain; ``None`` if any hole is continuous."""
        total = 1
        for h in self.holes:
            if h.size is None:
                return None
            total *= h.size
        return total

    def contains(self, values: Mapping[str, Fraction]) -> bool:
        return set(values) == set(self.names) and all(
            h.contains(values[h.name]) for h in self.holes
        )


def _hole(
    dom: ParameterDomain,
    values: Mapping[str, Fraction],
    field: str,
    upir: UPIR,
    issues: list[FieldIssue],
) -> Hole | None:
    comp_name, _, param = dom.name.partition(".")
    if not upir.architecture.has_component(comp_name):
        issues.append(FieldIssue(f"{field}.name", f"no component named '{comp_name}'"))
        return None
    ctype = COMPONENT_TYPES[upir.architecture.component(comp_name).type]
    spec = ctype.params.get(param)
    if spec is None:
        issues.append(FieldIssue(f"{field}.name", f"a {ctype.name} has no parameter '{param}'"))
        return None
    if dom.min > dom.max:
        issues.append(FieldIssue(f"{field}.min", f"min ({dom.min}) is above max ({dom.max})"))
        return None
    if dom.step is not None and dom.step <= 0:
        issues.append(FieldIssue(f"{field}.step", f"must be > 0 (got {dom.step})"))
        return None
    if dom.min < spec.lower:
        issues.append(
            FieldIssue(f"{field}.min", f"must be >= {spec.lower} for {ctype.name}.{param}")
        )
        return None
    integer = dom.integer or spec.integer
    step = dom.step
    lo = dom.min
    if integer:
        if step is not None and (step.denominator != 1 or lo.denominator != 1):
            issues.append(
                FieldIssue(
                    f"{field}.step", f"{dom.name} takes whole values; min and step must be whole"
                )
            )
            return None
        lo = Fraction(math.ceil(lo))
        step = step if step is not None else Fraction(1)
        if lo > dom.max:
            issues.append(FieldIssue(f"{field}", f"no whole number lies in [{dom.min}, {dom.max}]"))
            return None
    hole = Hole(dom.name, lo, dom.max, step, integer, values[dom.name])
    if param == "retries" and (hole.size or 0) > MAX_RETRIES_VALUES:
        issues.append(
            FieldIssue(
                f"{field}.max",
                f"{dom.name} has {hole.size} values; synthesis supports at most {MAX_RETRIES_VALUES}",
            )
        )
        return None
    return hole
