"""The ``Pattern`` record: a parameterised architecture shape with the properties
its instances prove, and the Beta posterior of how often instances verify.

Patterns are frozen values; the library replaces a pattern to update it. Every
number that came from a resource stays exact (``Fraction``) and is written to
JSON as a JSON number, the same way resources are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.stats import beta as beta_dist

from upir.core.numbers import to_fraction, to_json_number
from upir.errors import FieldIssue, InvalidSpecError
from upir.expr.ast import (
    BinOp,
    BoolLit,
    BoolOp,
    Call,
    Compare,
    Expr,
    Name,
    Neg,
    Not,
    Num,
)
from upir.patterns.features import FEATURE_NAMES, FloatArray

FORMAT_VERSION = 1
"""Version of the JSON form written by :meth:`Pattern.to_dict`."""


def map_names(expr: Expr, fn: Callable[[str], str]) -> Expr:
    """``expr`` with every dotted name ``n`` replaced by ``fn(n)``."""
    if isinstance(expr, Name):
        return Name(fn(expr.name), expr.pos)
    if isinstance(expr, (Num, BoolLit)):
        return expr
    if isinstance(expr, Neg):
        return Neg(map_names(expr.operand, fn), expr.pos)
    if isinstance(expr, Not):
        return Not(map_names(expr.operand, fn), expr.pos)
    if isinstance(expr, BinOp):
        return BinOp(expr.op, map_names(expr.left, fn), map_names(expr.right, fn), expr.pos)
    if isinstance(expr, Compare):
        return Compare(expr.ops, tuple(map_names(e, fn) for e in expr.operands), expr.pos)
    if isinstance(expr, BoolOp):
        return BoolOp(expr.op, tuple(map_names(e, fn) for e in expr.operands), expr.pos)
    if isinstance(expr, Call):
        return Call(expr.func, tuple(map_names(e, fn) for e in expr.args), expr.pos)
    raise TypeError(f"not an expression node: {expr!r}")


def rename(expr: Expr, mapping: Mapping[str, str]) -> Expr:
    """``expr`` with the scope of every ``<scope>.<attr>`` name replaced through
    ``mapping`` (scopes not in it, such as ``env`` and ``system``, stay)."""

    def fn(name: str) -> str:
        scope, _, attr = name.partition(".")
        return f"{mapping[scope]}.{attr}" if scope in mapping else name

    return map_names(expr, fn)


@dataclass(frozen=True, slots=True)
class ParamRange:
    """Values of one parameter seen across a pattern's instances (inclusive).
    ``log_min``/``log_max`` are ``log1p`` of the ends, kept for role matching."""

    min: Fraction
    max: Fraction
    log_min: float = field(init=False, repr=False, compare=False)
    log_max: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # frozen: derived once, at construction
        object.__setattr__(self, "log_min", math.log1p(max(float(self.min), 0.0)))
        object.__setattr__(self, "log_max", math.log1p(max(float(self.max), 0.0)))

    def contains(self, value: Fraction) -> bool:
        return self.min <= value <= self.max

    def widen(self, value: Fraction) -> ParamRange:
        return ParamRange(min(self.min, value), max(self.max, value))

    def to_dict(self) -> dict[str, int | float]:
        return {"min": to_json_number(self.min), "max": to_json_number(self.max)}


@dataclass(frozen=True, slots=True)
class Role:
    """A position in the pattern's graph that one or more components fill.

    ``level`` is the longest distance in connections from an entry point;
    ``fan_in``/``fan_out`` are those of a typical filler; ``min_count`` and
    ``max_count`` bound how many components of one instance fill the role (a
    fan-out pattern has several subscribers); ``params`` are the ranges seen."""

    name: str
    type: str
    level: int
    fan_in: int
    fan_out: int
    min_count: int = 1
    max_count: int = 1
    params: Mapping[str, ParamRange] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "level": self.level,
            "fanIn": self.fan_in,
            "fanOut": self.fan_out,
            "count": {"min": self.min_count, "max": self.max_count},
            "params": {k: v.to_dict() for k, v in sorted(self.params.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Role:
        return cls(
            name=str(raw["name"]),
            type=str(raw["type"]),
            level=int(raw["level"]),
            fan_in=int(raw["fanIn"]),
            fan_out=int(raw["fanOut"]),
            min_count=int(raw["count"]["min"]),
            max_count=int(raw["count"]["max"]),
            params=MappingProxyType(
                {
                    k: ParamRange(to_fraction(v["min"]), to_fraction(v["max"]))
                    for k, v in raw.get("params", {}).items()
                }
            ),
        )


@dataclass(frozen=True, slots=True)
class PropertyTemplate:
    """A property stated over role names instead of component names.

    ``seen`` counts the instances that state it, ``checked`` those a verifier
    gave a verdict for, ``proved`` those whose verdict was PROVED (only PROVED
    counts)."""

    name: str
    kind: str
    operator: str
    predicate: str
    trigger: str | None = None
    time_bound_ms: Fraction | None = None
    seen: int = 0
    checked: int = 0
    proved: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "operator": self.operator,
            "predicate": self.predicate,
            "seen": self.seen,
            "checked": self.checked,
            "proved": self.proved,
        }
        if self.trigger is not None:
            out["trigger"] = self.trigger
        if self.time_bound_ms is not None:
            out["timeBoundMs"] = to_json_number(self.time_bound_ms)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PropertyTemplate:
        bound = raw.get("timeBoundMs")
        return cls(
            name=str(raw["name"]),
            kind=str(raw["kind"]),
            operator=str(raw["operator"]),
            predicate=str(raw["predicate"]),
            trigger=None if raw.get("trigger") is None else str(raw["trigger"]),
            time_bound_ms=None if bound is None else to_fraction(bound),
            seen=int(raw.get("seen", 0)),
            checked=int(raw.get("checked", 0)),
            proved=int(raw.get("proved", 0)),
        )


@dataclass(frozen=True, slots=True)
class BetaPosterior:
    """Beta(alpha, beta) belief in "an instance of this pattern verifies".

    Starts from the prior ``Beta(prior_alpha, prior_beta)`` (uniform by default)
    and counts verification runs: a run is a success only when every property was
    PROVED; VIOLATED, UNKNOWN, TIMEOUT and ERROR all count as failures, because
    only PROVED is ever a pass."""

    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    successes: int = 0
    failures: int = 0

    @property
    def alpha(self) -> float:
        return self.prior_alpha + self.successes

    @property
    def beta(self) -> float:
        return self.prior_beta + self.failures

    @property
    def mean(self) -> float:
        """Posterior mean of the success probability."""
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """Equal-tailed credible interval of the success probability."""
        lo, hi = beta_dist.interval(level, self.alpha, self.beta)
        return float(lo), float(hi)

    def update(self, success: bool) -> BetaPosterior:
        if success:
            return replace(self, successes=self.successes + 1)
        return replace(self, failures=self.failures + 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "priorAlpha": self.prior_alpha,
            "priorBeta": self.prior_beta,
            "successes": self.successes,
            "failures": self.failures,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BetaPosterior:
        out = cls(
            prior_alpha=float(raw.get("priorAlpha", 1.0)),
            prior_beta=float(raw.get("priorBeta", 1.0)),
            successes=int(raw.get("successes", 0)),
            failures=int(raw.get("failures", 0)),
        )
        if not (out.prior_alpha > 0 and out.prior_beta > 0) or min(out.successes, out.failures) < 0:
            raise ValueError("Beta prior must be positive and counts non-negative")
        return out


@dataclass(frozen=True)
class Pattern:
    """A parameterised architecture pattern.

    ``centroid`` is the mean feature vector of its instances and ``spread`` the
    per-feature standard deviation (zeros for a single reference instance); both
    are ordered as :data:`upir.patterns.features.FEATURE_NAMES`. ``proofs``
    maps the proof-cache keys of properties its instances PROVED, computed on
    their role-canonical form (see :mod:`upir.patterns.reuse`), to what the
    proof covers (``stateless``, ``inductive``, ``bounded:N``). ``reference`` is
    a resource document of a typical instance."""

    id: str
    name: str
    description: str
    source: str
    roles: tuple[Role, ...]
    connections: tuple[tuple[str, str], ...]
    centroid: tuple[float, ...]
    spread: tuple[float, ...]
    properties: tuple[PropertyTemplate, ...] = ()
    members: int = 1
    reference: Mapping[str, Any] | None = None
    proofs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    success: BetaPosterior = field(default_factory=BetaPosterior)

    def __post_init__(self) -> None:
        n = len(FEATURE_NAMES)
        if len(self.centroid) != n or len(self.spread) != n:
            raise ValueError(f"pattern {self.id!r}: feature vectors must have {n} entries")

    @property
    def vector(self) -> FloatArray:
        return np.array(self.centroid, dtype=np.float64)

    @property
    def spread_vector(self) -> FloatArray:
        return np.array(self.spread, dtype=np.float64)

    def role(self, name: str) -> Role:
        for r in self.roles:
            if r.name == name:
                return r
        raise KeyError(name)

    def proved_properties(self) -> tuple[PropertyTemplate, ...]:
        """Templates PROVED on every instance a verifier checked (and checked at least once)."""
        return tuple(p for p in self.properties if p.checked > 0 and p.proved == p.checked)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "members": self.members,
            "roles": [r.to_dict() for r in self.roles],
            "connections": [{"from": a, "to": b} for a, b in self.connections],
            "features": dict(zip(FEATURE_NAMES, self.centroid, strict=True)),
            "spread": dict(zip(FEATURE_NAMES, self.spread, strict=True)),
            "properties": [p.to_dict() for p in self.properties],
            # pairs, oldest first: the order is what the library evicts by
            "proofs": [[k, v] for k, v in self.proofs.items()],
            "success": self.success.to_dict(),
            "reference": None if self.reference is None else dict(self.reference),
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "pattern") -> Pattern:
        """Inverse of :meth:`to_dict`. Raises ``InvalidSpecError`` naming the field
        for malformed input (including a feature vector from another version)."""
        if not isinstance(raw, Mapping):
            raise InvalidSpecError.single(where, "must be an object")
        try:
            features, spread = raw["features"], raw["spread"]
            missing = [n for n in FEATURE_NAMES if n not in features or n not in spread]
            if missing:
                raise InvalidSpecError.single(
                    f"{where}.features",
                    f"missing features {', '.join(missing[:5])} (saved by another version?)",
                )
            centroid = tuple(float(features[n]) for n in FEATURE_NAMES)
            spreads = tuple(float(spread[n]) for n in FEATURE_NAMES)
            if not all(math.isfinite(v) for v in centroid + spreads) or min(spreads) < 0:
                raise InvalidSpecError.single(
                    f"{where}.features", "values must be finite, spreads >= 0"
                )
            ref = raw.get("reference")
            return cls(
                id=str(raw["id"]),
                name=str(raw["name"]),
                description=str(raw.get("description", "")),
                source=str(raw.get("source", "user")),
                roles=tuple(Role.from_dict(r) for r in raw["roles"]),
                connections=tuple(
                    (str(c["from"]), str(c["to"])) for c in raw.get("connections", [])
                ),
                centroid=centroid,
                spread=spreads,
                properties=tuple(PropertyTemplate.from_dict(p) for p in raw.get("properties", [])),
                members=int(raw.get("members", 1)),
                reference=None if ref is None else MappingProxyType(dict(ref)),
                proofs=MappingProxyType({str(k): str(v) for k, v in raw.get("proofs", [])}),
                success=BetaPosterior.from_dict(raw.get("success", {})),
            )
        except InvalidSpecError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            detail = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise InvalidSpecError([FieldIssue(where, f"malformed pattern: {detail}")]) from None
