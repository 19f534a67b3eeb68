"""The formal specification: assumptions, invariants, properties, constraints,
tunable parameter domains, and the tuning settings of a UPIR."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from upir.core.catalog import CONSTRAINT_KEYS
from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.expr.ast import Compare as CompareNode
from upir.expr.ast import Expr, Name
from upir.expr.ast import Num as NumNode
from upir.expr.printer import to_source


@dataclass(frozen=True, slots=True)
class Assumption:
    """A bound on the environment (``env.*`` names only)."""

    expr: Expr
    field: str = ""


@dataclass(frozen=True, slots=True)
class Constraint:
    """A bound on a system-level quantity (``constraints.<key>``)."""

    key: str
    min: Fraction | None = None
    max: Fraction | None = None

    @property
    def quantity(self) -> str:
        return CONSTRAINT_KEYS[self.key]

    def as_property(self) -> TemporalProperty:
        """The ALWAYS property this constraint means: ``min <= system.<q> <= max``."""
        name = Name(self.quantity)
        ops: list[str] = []
        operands: list[Expr] = []
        if self.min is not None:
            operands.append(NumNode(self.min))
            ops.append("<=")
        operands.append(name)
        if self.max is not None:
            ops.append("<=")
            operands.append(NumNode(self.max))
        predicate = CompareNode(tuple(ops), tuple(operands))  # type: ignore[arg-type]
        return TemporalProperty(
            name=f"constraint.{self.key}",
            operator=TemporalOperator.ALWAYS,
            predicate=predicate,
            kind="constraint",
            field=f"spec.specification.constraints.{self.key}",
        )


@dataclass(frozen=True, slots=True)
class ParameterDomain:
    """A tunable hole: ``name`` is ``<component>.<param>``; values lie in
    ``[min, max]`` on the grid ``min + k*step`` when ``step`` is set; ``integer``
    comes from the component type's catalogue entry."""

    name: str
    min: Fraction
    max: Fraction
    step: Fraction | None
    integer: bool

    @property
    def component(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def param(self) -> str:
        return self.name.split(".", 1)[1]

    def contains(self, value: Fraction) -> bool:
        if value < self.min or value > self.max:
            return False
        if self.integer and value.denominator != 1:
            return False
        if self.step is not None:
            k = (value - self.min) / self.step
            return k.denominator == 1
        return True


@dataclass(frozen=True, slots=True)
class FormalSpecification:
    assumptions: tuple[Assumption, ...] = ()
    invariants: tuple[TemporalProperty, ...] = ()
    properties: tuple[TemporalProperty, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    def all_properties(self) -> tuple[TemporalProperty, ...]:
        """Invariants, properties, then one ALWAYS property per constraint."""
        return self.invariants + self.properties + tuple(c.as_property() for c in self.constraints)

    def canonical(self) -> dict[str, object]:
        """A JSON-able form independent of key order and expression formatting:
        expressions are printed from their AST, numbers as exact fractions."""

        def prop(p: TemporalProperty) -> dict[str, object]:
            return {
                "name": p.name,
                "operator": p.operator.value,
                "predicate": to_source(p.predicate),
                "trigger": to_source(p.trigger) if p.trigger is not None else None,
                "timeBoundMs": _frac(p.time_bound_ms),
            }

        return {
            "assumptions": sorted(to_source(a.expr) for a in self.assumptions),
            "invariants": sorted((prop(p) for p in self.invariants), key=lambda d: str(d["name"])),
            "properties": sorted((prop(p) for p in self.properties), key=lambda d: str(d["name"])),
            "constraints": {
                c.key: {"min": _frac(c.min), "max": _frac(c.max)}
                for c in sorted(self.constraints, key=lambda c: c.key)
            },
        }

    def hash(self) -> str:
        """SHA-256 of the canonical form (hex)."""
        return canonical_hash(self.canonical())


def _frac(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys: the one byte form hashes and signatures use."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_hash(value: object) -> str:
    return hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class PrometheusSpec:
    """``spec.tuning.prometheus``: ``queries`` per metric name, ``environment``
    per ``env.*`` name (without the prefix), PromQL each."""

    url: str
    queries: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class TuningSpec:
    """``spec.tuning``: how the operator tunes online. Defaults when absent."""

    mode: str = "Off"  # Off | Recommend | Auto
    interval_seconds: int = 60
    max_step_fraction: Fraction = Fraction(1, 4)
    prometheus: PrometheusSpec | None = None
    objective: Mapping[str, Fraction] = field(default_factory=lambda: MappingProxyType({}))
    learner_model: bool | None = None
    """``spec.tuning.learner.model``: this object's override of the tuning
    settings' ``model`` (the benchmark's winner); None: the operator's setting."""


@dataclass(frozen=True, slots=True)
class Target:
    """``spec.target``: the workload the operator configures (same namespace)."""

    deployment: str | None = None
    config_map: str | None = None
