"""Assumptions that cover what was observed (``upir calibrate``).

From observed environment values (:mod:`upir.conformance.assumptions`): each
name's sample count, min, p99 and max; each assumption covered, broken or
unobserved; and a proposal, the specification's assumptions with every broken
*simple* assumption (bounds on one name: ``env.x <= 800``, ``5 <= env.y <= 40``,
``env.z == 3``) widened to cover the observations with a margin, and a bound
added for each observed name that no assumption mentions. A broken assumption
that relates several names is kept as written and flagged: which way to widen
it is the user's call. Widened bounds are rounded outwards to two significant
digits and kept inside the name's physical domain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from upir.conformance.assumptions import (
    AssumptionCheck,
    Coverage,
    Observations,
    check_assumptions,
)
from upir.core.upir import UPIR
from upir.expr import constant_value
from upir.expr.ast import BoolOp, Compare, Expr, Name, names
from upir.verification.structure import EnvDomain, Structure

DEFAULT_MARGIN = Fraction(1, 10)
"""Headroom added beyond the observed range when widening a bound (10%)."""


@dataclass(frozen=True, slots=True)
class Summary:
    """One name's observations: sample count, min, p99 (nearest rank), max."""

    name: str
    samples: int
    min: Fraction
    p99: Fraction
    max: Fraction


@dataclass(frozen=True, slots=True)
class Proposal:
    """One assumption of the proposed list: ``text``, what became of the
    original (``kept``, ``widened``, ``added``, or ``flagged``: broken but not a
    bound on one name, kept as written) and the original text."""

    text: str
    action: str
    original: str | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    summaries: tuple[Summary, ...]
    checks: tuple[AssumptionCheck, ...]
    proposals: tuple[Proposal, ...]

    @property
    def broken(self) -> tuple[AssumptionCheck, ...]:
        return tuple(c for c in self.checks if c.coverage is Coverage.BROKEN)

    def patch(self) -> dict[str, object]:
        """A merge patch of the resource (``kubectl patch --type merge``; a list
        is replaced whole) with the proposed assumptions."""
        return {"spec": {"specification": {"assumptions": [p.text for p in self.proposals]}}}


def summarize(observations: Observations) -> tuple[Summary, ...]:
    out: list[Summary] = []
    for name in sorted(observations):
        values = sorted(v for _, v in observations[name])
        if not values:
            continue
        rank = max(1, math.ceil(0.99 * len(values)))
        out.append(Summary(name, len(values), values[0], values[rank - 1], values[-1]))
    return tuple(out)


def calibrate(
    upir: UPIR, observations: Observations, margin: Fraction = DEFAULT_MARGIN
) -> Calibration:
    """Check ``upir``'s assumptions against ``observations`` and propose ones
    that cover them (see the module docstring)."""
    if margin < 0:
        raise ValueError("margin must be >= 0")
    summaries = summarize(observations)
    by_name = {s.name: s for s in summaries}
    assumptions = upir.specification.assumptions
    checks = check_assumptions(assumptions, observations)
    st = Structure(upir.architecture)
    proposals: list[Proposal] = []
    mentioned: set[str] = set()
    for assumption, check in zip(assumptions, checks, strict=True):
        mentioned |= names(assumption.expr)
        if check.coverage is not Coverage.BROKEN:
            proposals.append(Proposal(check.text, "kept"))
            continue
        bounds = simple_bounds(assumption.expr)
        if bounds is None:
            proposals.append(Proposal(check.text, "flagged", check.text))
            continue
        name, lo, hi = bounds
        seen = by_name[name]
        proposals.append(
            Proposal(
                _bound_text(name, *_widen(lo, hi, seen, margin, st.domain(name))),
                "widened",
                check.text,
            )
        )
    for s in summaries:
        if s.name not in mentioned:
            # a name no assumption bounds is unbounded for the verifier: an
            # upper bound covering what was seen makes proofs possible
            _, hi = _widen(None, s.max, s, margin, st.domain(s.name))
            proposals.append(Proposal(_bound_text(s.name, None, hi), "added"))
    return Calibration(summaries, tuple(checks), tuple(proposals))


def simple_bounds(expr: Expr) -> tuple[str, Fraction | None, Fraction | None] | None:
    """``(name, lower, upper)`` when ``expr`` only bounds one name by constants
    (a comparison chain, or an ``and`` of them); None otherwise."""
    parts = expr.operands if isinstance(expr, BoolOp) and expr.op == "and" else (expr,)
    name: str | None = None
    lo: Fraction | None = None
    hi: Fraction | None = None
    for part in parts:
        if not isinstance(part, Compare):
            return None
        for i, op in enumerate(part.ops):
            a, b = part.operands[i], part.operands[i + 1]
            if isinstance(a, Name) and _constant(b) is not None:
                var, c, flipped = a.name, _constant(b), False
            elif isinstance(b, Name) and _constant(a) is not None:
                var, c, flipped = b.name, _constant(a), True
            else:
                return None
            assert c is not None
            if name not in (None, var) or op == "!=":
                return None
            name = var
            upper = (op in ("<", "<=")) != flipped
            if op == "==" or upper:
                hi = c if hi is None else min(hi, c)
            if op == "==" or not upper:
                lo = c if lo is None else max(lo, c)
    return None if name is None else (name, lo, hi)


def _constant(expr: Expr) -> Fraction | None:
    value = constant_value(expr)
    return value if isinstance(value, Fraction) else None


def _widen(
    lo: Fraction | None,
    hi: Fraction | None,
    seen: Summary,
    margin: Fraction,
    domain: EnvDomain,
) -> tuple[Fraction | None, Fraction | None]:
    """The bounds ``lo`` and ``hi`` (None: no such bound) moved out to cover the
    observations with ``margin``, rounded outwards, inside ``domain`` (a lower
    bound the domain already gives is dropped)."""
    span_hi = seen.max + margin * abs(seen.max)
    span_lo = seen.min - margin * abs(seen.min)
    new_hi = None if hi is None else _round(max(hi, span_hi), up=True)
    new_lo = None if lo is None else _round(min(lo, span_lo), up=False)
    if new_hi is not None and domain.upper is not None and new_hi >= domain.upper:
        new_hi = domain.upper
    if new_lo is not None and domain.lower is not None and new_lo <= domain.lower:
        new_lo = None if domain.lower_strict or new_lo < domain.lower else new_lo
    return new_lo, new_hi


def _round(x: Fraction, *, up: bool) -> Fraction:
    """``x`` rounded outwards (``up``: towards +inf) to two significant digits."""
    if x == 0:
        return x
    scale = Fraction(10) ** (math.floor(math.log10(abs(x))) - 1)
    steps = x / scale
    whole = math.ceil(steps) if up else math.floor(steps)
    return whole * scale


def _bound_text(name: str, lo: Fraction | None, hi: Fraction | None) -> str:
    if lo is not None and hi is not None:
        return f"{_num(lo)} <= {name} <= {_num(hi)}"
    if hi is not None:
        return f"{name} <= {_num(hi)}"
    assert lo is not None, "a bound on neither side"
    return f"{name} >= {_num(lo)}"


def _num(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    text = f"{float(x):.12g}"
    return text if Fraction(text) == x else str(float(x))


def parse_number(raw: object, where: str) -> Fraction:
    """An observed value as an exact number (Prometheus sends strings)."""
    try:
        value = Fraction(str(raw))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{where}: not a number: {raw!r}") from None
    return value


def samples_of(raw: object, where: str) -> list[tuple[float, Fraction]]:
    """Samples from a list of numbers (instants 0, 1, 2...) or of
    ``[timestamp, value]`` pairs (Prometheus' matrix ``values``)."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise ValueError(f"{where}: expected a list of values or [timestamp, value] pairs")
    out: list[tuple[float, Fraction]] = []
    for i, item in enumerate(raw):
        if isinstance(item, Sequence) and not isinstance(item, str | bytes):
            if len(item) != 2:
                raise ValueError(f"{where}[{i}]: expected [timestamp, value]")
            at = float(parse_number(item[0], f"{where}[{i}][0]"))
            out.append((at, parse_number(item[1], f"{where}[{i}][1]")))
        else:
            out.append((float(i), parse_number(item, f"{where}[{i}]")))
    return out


def observations_from(raw: object, upir: UPIR) -> dict[str, list[tuple[float, Fraction]]]:
    """``--metrics FILE`` content: a mapping from env names (``env.x`` or
    ``x``) to :func:`samples_of` lists. Every name must be one the spec can
    use: the model's or one its assumptions or properties mention."""
    if not isinstance(raw, Mapping):
        raise ValueError("metrics: expected a mapping from env names to samples")
    known = known_env_names(upir)
    out: dict[str, list[tuple[float, Fraction]]] = {}
    for key, samples in raw.items():
        name = key if str(key).startswith("env.") else f"env.{key}"
        if name not in known:
            raise ValueError(
                f"metrics.{key}: the spec uses no environment name {name} "
                f"(known: {', '.join(sorted(known))})"
            )
        out[name] = samples_of(samples, f"metrics.{key}")
    return out


def known_env_names(upir: UPIR) -> frozenset[str]:
    """Every ``env.*`` name ``upir`` gives a meaning: the model's, and those
    its assumptions and properties mention."""
    found = set(Structure(upir.architecture).env_domains)
    for a in upir.specification.assumptions:
        found |= names(a.expr)
    for p in upir.specification.all_properties():
        for e in (p.predicate, p.trigger):
            if e is not None:
                found |= {n for n in names(e) if n.startswith("env.")}
    return frozenset(found)
