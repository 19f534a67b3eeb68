"""Renaming components throughout a UPIR resource document.

Component names appear in the component list, the connections, every predicate,
trigger and assumption (as ``<component>.<attr>`` and as ``env.<component>_*``)
and the tunable parameter names; renaming must reach all of them or the
document stops meaning the same system.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from upir.core.architecture import Architecture, Component, Connection
from upir.core.catalog import COMPONENT_TYPES
from upir.core.evidence import ReasoningGraph
from upir.core.specification import Assumption, FormalSpecification
from upir.core.temporal import TemporalProperty
from upir.core.upir import UPIR
from upir.expr import parse, to_source
from upir.patterns.pattern import map_names

Resource = dict[str, Any]

# Environment names derived from a component name: the catalogue's per-type ones
# (service_ms, failure_rate) and the drain rate of a queue with no consumer
# (``upir.verification.structure.drain_rps_name``).
_ENV_SUFFIXES = tuple(sorted({k for t in COMPONENT_TYPES.values() for k in t.env} | {"drain_rps"}))


def name_renamer(mapping: Mapping[str, str]) -> Callable[[str], str]:
    """A function renaming one dotted name: ``<c>.<attr>`` and
    ``env.<c>_<suffix>`` follow ``mapping``; everything else stays."""
    env_map = {
        f"env.{old}_{suffix}": f"env.{new}_{suffix}"
        for old, new in mapping.items()
        for suffix in _ENV_SUFFIXES
    }

    def fn(name: str) -> str:
        scope, _, attr = name.partition(".")
        if scope in mapping:
            return f"{mapping[scope]}.{attr}"
        return env_map.get(name, name)

    return fn


def _rename_expr(text: str, mapping: Mapping[str, str], field: str) -> str:
    return to_source(map_names(parse(text, field=field), name_renamer(mapping)))


def rename_upir(upir: UPIR, mapping: Mapping[str, str]) -> UPIR:
    """``upir`` with components renamed, built from the model directly (no
    re-parsing): the same system under other names. Its ``resource`` is left
    empty; use :func:`rename_components` on ``to_resource()`` for a document."""
    fn = name_renamer(mapping)

    def new(name: str) -> str:
        return mapping.get(name, name)

    arch = Architecture(
        tuple(Component(new(c.name), c.type, c.params) for c in upir.architecture.components),
        tuple(Connection(new(c.source), new(c.target)) for c in upir.architecture.connections),
    )
    spec = upir.specification

    def prop(p: TemporalProperty) -> TemporalProperty:
        trigger = None if p.trigger is None else map_names(p.trigger, fn)
        return replace(p, predicate=map_names(p.predicate, fn), trigger=trigger)

    renamed = FormalSpecification(
        assumptions=tuple(Assumption(map_names(a.expr, fn), a.field) for a in spec.assumptions),
        invariants=tuple(prop(p) for p in spec.invariants),
        properties=tuple(prop(p) for p in spec.properties),
        constraints=spec.constraints,
    )
    params = tuple(replace(d, name=f"{new(d.component)}.{d.param}") for d in upir.parameters)
    return replace(
        upir,
        architecture=arch,
        specification=renamed,
        parameters=params,
        resource=MappingProxyType({}),
        reasoning=ReasoningGraph(),
    )


def rename_components(doc: Resource, mapping: Mapping[str, str]) -> Resource:
    """A copy of ``doc`` with components renamed everywhere they appear:
    components, connections, predicates, triggers, assumptions (``env.<c>_*``)
    and tunable parameter names."""
    out = copy.deepcopy(doc)
    spec = out["spec"]
    for c in spec["architecture"]["components"]:
        c["name"] = mapping.get(c["name"], c["name"])
    for c in spec["architecture"].get("connections", []):
        c["from"] = mapping.get(c["from"], c["from"])
        c["to"] = mapping.get(c["to"], c["to"])
    sspec = spec.get("specification", {})
    sspec["assumptions"] = [
        _rename_expr(a, mapping, "assumption") for a in sspec.get("assumptions", [])
    ]
    for key in ("invariants", "properties"):
        for p in sspec.get(key, []):
            p["predicate"] = _rename_expr(p["predicate"], mapping, "predicate")
            if "trigger" in p:
                p["trigger"] = _rename_expr(p["trigger"], mapping, "trigger")
    for d in spec.get("parameters", []):
        comp, _, param = d["name"].partition(".")
        d["name"] = f"{mapping.get(comp, comp)}.{param}"
    return out
