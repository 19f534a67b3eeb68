"""The ``UPIR`` object: one resource's architecture, specification, tunable
parameters and tuning settings, plus the evidence and reasoning behind it."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from upir.core.architecture import Architecture, Component
from upir.core.evidence import Evidence, ReasoningGraph, ReasoningNode
from upir.core.loader import build_model
from upir.core.numbers import Number, to_fraction, to_json_number
from upir.core.specification import (
    FormalSpecification,
    ParameterDomain,
    Target,
    TuningSpec,
    canonical_hash,
)
from upir.expr import DEFAULT_LIMITS, ExprLimits


@dataclass(frozen=True)
class UPIR:
    """Build one with :meth:`from_resource`; it is immutable (``with_params``
    returns a new one). ``resource`` is the document it came from, kept so that
    :meth:`to_resource` gives back exactly what was read, with any parameter
    changes applied."""

    name: str
    architecture: Architecture
    specification: FormalSpecification
    parameters: tuple[ParameterDomain, ...] = ()
    tuning: TuningSpec = field(default_factory=TuningSpec)
    target: Target = field(default_factory=Target)
    system_type: str = "api"
    namespace: str | None = None
    resource: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    reasoning: ReasoningGraph = field(default_factory=ReasoningGraph, compare=False, repr=False)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_resource(cls, doc: Any, limits: ExprLimits = DEFAULT_LIMITS) -> UPIR:
        """Validate and build. Raises ``InvalidSpecError`` naming every bad field."""
        kwargs = build_model(doc, limits)
        return cls(resource=copy.deepcopy(doc), **kwargs)

    def to_resource(self) -> dict[str, Any]:
        """The resource document, with the current parameter values."""
        doc: dict[str, Any] = copy.deepcopy(dict(self.resource))
        for raw, comp in zip(
            doc["spec"]["architecture"]["components"], self.architecture.components, strict=True
        ):
            if comp.params:
                raw["params"] = dict(comp.params)
        return doc

    def to_json(self) -> str:
        """Resource plus the evidence and reasoning records (which the resource
        does not carry)."""
        return json.dumps(
            {
                "resource": self.to_resource(),
                "evidence": [e.to_dict() for e in self.reasoning.evidence.values()],
                "reasoning": [n.to_dict() for n in self.reasoning.nodes.values()],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, limits: ExprLimits = DEFAULT_LIMITS) -> UPIR:
        data = json.loads(text)
        upir = cls.from_resource(data["resource"], limits)
        for ev in data.get("evidence", []):
            upir.reasoning.add_evidence(Evidence.from_dict(ev))
        pending = [ReasoningNode.from_dict(n) for n in data.get("reasoning", [])]
        # parents first: nodes were written in insertion order, which already is
        for node in pending:
            upir.reasoning.add_node(node)
        return upir

    # -- parameters ---------------------------------------------------------
    def param_values(self) -> dict[str, Fraction]:
        """Every ``<component>.<param>`` with its exact current value (defaults filled)."""
        out: dict[str, Fraction] = {}
        for comp in self.architecture.components:
            for pname, value in comp.effective_params().items():
                out[f"{comp.name}.{pname}"] = value
        return out

    def tunable_values(self) -> dict[str, Fraction]:
        """Current values of the tunable parameters only, in declaration order."""
        values = self.param_values()
        return {d.name: values[d.name] for d in self.parameters}

    def with_params(self, changes: Mapping[str, Fraction | Number]) -> UPIR:
        """A copy with some ``<component>.<param>`` values replaced."""
        by_comp: dict[str, dict[str, Number]] = {}
        for key, value in changes.items():
            comp_name, param = key.split(".", 1)
            if not self.architecture.has_component(comp_name):
                raise KeyError(f"no component named '{comp_name}'")
            by_comp.setdefault(comp_name, {})[param] = to_json_number(to_fraction(value))
        comps: list[Component] = []
        for comp in self.architecture.components:
            if comp.name in by_comp:
                merged = {**comp.params, **by_comp[comp.name]}
                comps.append(Component(comp.name, comp.type, MappingProxyType(merged)))
            else:
                comps.append(comp)
        arch = Architecture(tuple(comps), self.architecture.connections)
        return replace(self, architecture=arch, reasoning=self.reasoning)

    def domain(self, name: str) -> ParameterDomain | None:
        for d in self.parameters:
            if d.name == name:
                return d
        return None

    # -- identity -----------------------------------------------------------
    def spec_hash(self) -> str:
        """SHA-256 of the specification alone (independent of formatting)."""
        return self.specification.hash()

    def content_hash(self) -> str:
        """SHA-256 of everything that can change a verdict: architecture with
        exact parameter values, specification and parameter domains."""
        return canonical_hash(
            {
                "spec": self.specification.canonical(),
                "components": sorted(
                    [c.name, c.type, sorted((k, str(v)) for k, v in c.effective_params().items())]
                    for c in self.architecture.components
                ),
                "connections": sorted([c.source, c.target] for c in self.architecture.connections),
                "parameters": sorted(
                    [d.name, str(d.min), str(d.max), str(d.step)] for d in self.parameters
                ),
            }
        )

    def add_evidence(self, ev: Evidence) -> str:
        return self.reasoning.add_evidence(ev)

    def add_reasoning(self, node: ReasoningNode) -> str:
        return self.reasoning.add_node(node)

    def compute_overall_confidence(self) -> float:
        return self.reasoning.overall_confidence()
