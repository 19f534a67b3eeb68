"""Resource document -> model, with every semantic check the schema cannot do.

The schema (``upir.resource``, the same one the CRD carries) checks shapes, types,
enums and the simple cross-field rules; this module parses the expressions and
checks what needs the expression language and the component catalogue: which names
exist, which parameters are integers, whether the connection graph is acyclic.
All problems are collected so a user sees them together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from upir.core.architecture import Architecture, Component, Connection
from upir.core.catalog import (
    COMPONENT_TYPES,
    CONSTRAINT_KEYS,
    RESERVED_SCOPES,
    SYSTEM_QUANTITIES,
)
from upir.core.numbers import is_number, to_fraction
from upir.core.specification import (
    Assumption,
    Constraint,
    FormalSpecification,
    ParameterDomain,
    PrometheusSpec,
    Target,
    TuningSpec,
)
from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.errors import ExpressionError, FieldIssue, InvalidSpecError
from upir.expr import DEFAULT_LIMITS, ExprLimits, parse
from upir.expr.ast import Expr, Name, children, names
from upir.resource import schema_issues


class _Issues:
    def __init__(self) -> None:
        self.items: list[FieldIssue] = []

    def add(self, field: str, message: str, position: int | None = None) -> None:
        self.items.append(FieldIssue(field, message, position))


def _name_nodes(expr: Expr) -> Iterator[Name]:
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            yield node
        else:
            stack.extend(reversed(children(node)))


def _check_names(
    expr: Expr, field: str, arch: Architecture, issues: _Issues, *, env_only: bool = False
) -> None:
    for node in _name_nodes(expr):
        scope, attr = node.scope, node.attr
        if env_only:
            if scope != "env":
                issues.add(
                    field, f"assumptions may only mention env.* names, not '{node.name}'", node.pos
                )
            continue
        if scope == "env":
            continue
        if scope == "system":
            if attr not in SYSTEM_QUANTITIES:
                known = ", ".join(sorted(SYSTEM_QUANTITIES))
                issues.add(
                    field, f"unknown system quantity '{node.name}' (known: {known})", node.pos
                )
            continue
        if not arch.has_component(scope):
            issues.add(field, f"unknown name '{node.name}': no component named '{scope}'", node.pos)
            continue
        comp = arch.component(scope)
        ctype = COMPONENT_TYPES[comp.type]
        if attr not in ctype.params and attr not in ctype.derived and attr not in comp.params:
            known = ", ".join(sorted(set(ctype.params) | set(ctype.derived)))
            issues.add(
                field,
                f"unknown name '{node.name}': a {comp.type} has no '{attr}' (known: {known})",
                node.pos,
            )


def _parse(text: Any, field: str, limits: ExprLimits, issues: _Issues) -> Expr | None:
    try:
        return parse(text, field=field, expect="bool", limits=limits)
    except ExpressionError as err:
        issues.items.extend(err.issues)
        return None


def _components(spec: Mapping[str, Any], issues: _Issues) -> Architecture:
    comps: list[Component] = []
    seen: set[str] = set()
    base = "spec.architecture.components"
    for i, raw in enumerate(spec["architecture"]["components"]):
        field = f"{base}[{i}]"
        name, ctype = raw["name"], raw["type"]
        if name in RESERVED_SCOPES:
            issues.add(f"{field}.name", f"'{name}' is reserved for expressions; pick another name")
        if name in seen:
            issues.add(f"{field}.name", f"duplicate component name '{name}'")
        seen.add(name)
        params: dict[str, int | float] = dict(raw.get("params") or {})
        catalog = COMPONENT_TYPES[ctype]
        for pname, value in params.items():
            pfield = f"{field}.params.{pname}"
            if pname in catalog.derived:
                issues.add(pfield, f"'{pname}' is derived by the {ctype} model, not a parameter")
                continue
            pspec = catalog.params.get(pname)
            if pspec is None or not is_number(value):
                continue
            exact = to_fraction(value)
            if exact < pspec.lower:
                issues.add(pfield, f"must be >= {pspec.lower} (got {value})")
            if pspec.integer and exact.denominator != 1:
                issues.add(pfield, f"must be a whole number (got {value})")
        comps.append(Component(name, ctype, MappingProxyType(params)))
    conns = []
    for i, raw in enumerate(spec["architecture"].get("connections") or []):
        src, dst = raw["from"], raw["to"]
        for key, end in (("from", src), ("to", dst)):
            if end not in seen:
                issues.add(
                    f"spec.architecture.connections[{i}].{key}", f"no component named '{end}'"
                )
        conns.append(Connection(src, dst))
    arch = Architecture(
        tuple(comps), tuple(c for c in conns if c.source in seen and c.target in seen)
    )
    cycle = arch.find_cycle()
    if cycle:
        issues.add(
            "spec.architecture.connections", "connections form a cycle: " + " -> ".join(cycle)
        )
    return arch


def _properties(
    raw_list: list[Any],
    base: str,
    kind: str,
    arch: Architecture,
    limits: ExprLimits,
    issues: _Issues,
) -> list[TemporalProperty]:
    out: list[TemporalProperty] = []
    for i, raw in enumerate(raw_list):
        field = f"{base}[{i}]"
        op = TemporalOperator(raw.get("operator", "ALWAYS"))
        if kind == "invariant" and op is not TemporalOperator.ALWAYS:
            issues.add(
                f"{field}.operator", f"invariants must be ALWAYS (got {op.value}); use properties"
            )
        pred = _parse(raw["predicate"], f"{field}.predicate", limits, issues)
        trig = None
        if op.needs_trigger:
            if "trigger" not in raw:
                issues.add(f"{field}.trigger", f"{op.value} needs a trigger predicate")
            else:
                trig = _parse(raw["trigger"], f"{field}.trigger", limits, issues)
        elif "trigger" in raw:
            issues.add(
                f"{field}.trigger", f"only UNTIL and SINCE take a trigger (operator is {op.value})"
            )
        bound = raw.get("timeBoundMs")
        if op.needs_time_bound and bound is None:
            issues.add(f"{field}.timeBoundMs", "WITHIN needs timeBoundMs")
        for expr, sub in ((pred, "predicate"), (trig, "trigger")):
            if expr is not None:
                _check_names(expr, f"{field}.{sub}", arch, issues)
        if pred is not None and (trig is not None or not op.needs_trigger):
            out.append(
                TemporalProperty(
                    name=raw["name"],
                    operator=op,
                    predicate=pred,
                    trigger=trig,
                    time_bound_ms=None if bound is None else to_fraction(bound),
                    kind=kind,
                    field=field,
                )
            )
    return out


def _parameters(raw_list: list[Any], arch: Architecture, issues: _Issues) -> list[ParameterDomain]:
    out: list[ParameterDomain] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_list):
        field = f"spec.parameters[{i}]"
        name = raw["name"]
        if name in seen:
            issues.add(f"{field}.name", f"duplicate parameter '{name}'")
        seen.add(name)
        comp_name, param = name.split(".", 1)
        if not arch.has_component(comp_name):
            issues.add(f"{field}.name", f"no component named '{comp_name}'")
            continue
        comp = arch.component(comp_name)
        catalog = COMPONENT_TYPES[comp.type]
        pspec = catalog.params.get(param)
        if pspec is None:
            known = ", ".join(sorted(catalog.params))
            issues.add(
                f"{field}.name",
                f"a {comp.type} has no tunable parameter '{param}' (known: {known})",
            )
            continue
        lo, hi = to_fraction(raw["min"]), to_fraction(raw["max"])
        step = to_fraction(raw["step"]) if raw.get("step") is not None else None
        if lo > hi:
            issues.add(f"{field}.min", f"min ({raw['min']}) must be <= max ({raw['max']})")
        if lo < pspec.lower:
            issues.add(
                f"{field}.min",
                f"must be >= {pspec.lower} for {comp.type}.{param} (got {raw['min']})",
            )
        if step is not None and step <= 0:
            issues.add(f"{field}.step", f"must be > 0 (got {raw['step']})")
        if pspec.integer:
            for key, val in (("min", lo), ("max", hi), ("step", step)):
                if val is not None and val.denominator != 1:
                    issues.add(f"{field}.{key}", f"{name} takes whole values (got {raw[key]})")
        out.append(ParameterDomain(name, lo, hi, step, pspec.integer))
    return out


def _frac_map(raw: Mapping[str, Any] | None) -> Mapping[str, Fraction]:
    return MappingProxyType({k: to_fraction(v) for k, v in (raw or {}).items()})


def _tuning(raw: Mapping[str, Any] | None) -> TuningSpec:
    if not raw:
        return TuningSpec()
    prom = raw.get("prometheus")
    return TuningSpec(
        mode=raw.get("mode", "Off"),
        interval_seconds=int(raw.get("intervalSeconds", 60)),
        max_step_fraction=to_fraction(raw.get("maxStepFraction", 0.25)),
        prometheus=None
        if not prom
        else PrometheusSpec(
            prom["url"],
            MappingProxyType(dict(prom.get("queries") or {})),
            MappingProxyType(dict(prom.get("environment") or {})),
        ),
        objective=_frac_map(raw.get("objective")),
        learner_model=(raw.get("learner") or {}).get("model"),
    )


def _check_environment_queries(
    raw: Mapping[str, Any] | None,
    assumptions: list[Assumption],
    props: list[TemporalProperty],
    issues: _Issues,
) -> None:
    """``spec.tuning.prometheus.environment`` may only name environment
    variables the spec uses (its assumptions or properties): an observed value
    of any other name could be checked against nothing."""
    queries = ((raw or {}).get("prometheus") or {}).get("environment") or {}
    used: set[str] = set()
    for a in assumptions:
        used |= names(a.expr)
    for p in props:
        for e in (p.predicate, p.trigger):
            if e is not None:
                used |= {n for n in names(e) if n.startswith("env.")}
    for key in sorted(queries):
        if f"env.{key}" not in used:
            known = ", ".join(sorted(n.removeprefix("env.") for n in used)) or "none"
            issues.add(
                f"spec.tuning.prometheus.environment.{key}",
                f"the spec uses no env.{key} (its assumptions and properties use: {known})",
            )


def infer_system_type(arch: Architecture) -> str:
    """streaming when items are batched off a queue, batch when batched without
    one, api otherwise (request/response services)."""
    types = {c.type for c in arch.components}
    if "batcher" in types:
        return "streaming" if "queue" in types else "batch"
    return "api"


def build_model(doc: Any, limits: ExprLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Check ``doc`` fully and return the keyword arguments of a ``UPIR``.

    Raises ``InvalidSpecError`` listing every problem found."""
    found = schema_issues(doc)
    if found:
        raise InvalidSpecError(found)
    issues = _Issues()
    spec = doc["spec"]
    arch = _components(spec, issues)
    sspec = spec.get("specification") or {}
    assumptions = []
    for i, text in enumerate(sspec.get("assumptions") or []):
        field = f"spec.specification.assumptions[{i}]"
        expr = _parse(text, field, limits, issues)
        if expr is not None:
            _check_names(expr, field, arch, issues, env_only=True)
            assumptions.append(Assumption(expr, field))
    invariants = _properties(
        sspec.get("invariants") or [],
        "spec.specification.invariants",
        "invariant",
        arch,
        limits,
        issues,
    )
    properties = _properties(
        sspec.get("properties") or [],
        "spec.specification.properties",
        "property",
        arch,
        limits,
        issues,
    )
    names = [p.name for p in invariants + properties]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        issues.add("spec.specification", f"duplicate property name '{dup}'")
    constraints = []
    for key, bounds in (sspec.get("constraints") or {}).items():
        lo = to_fraction(bounds["min"]) if bounds.get("min") is not None else None
        hi = to_fraction(bounds["max"]) if bounds.get("max") is not None else None
        if key not in CONSTRAINT_KEYS:
            issues.add(f"spec.specification.constraints.{key}", "unknown constraint")
        elif lo is None and hi is None:
            issues.add(f"spec.specification.constraints.{key}", "needs min or max")
        elif lo is not None and hi is not None and lo > hi:
            issues.add(
                f"spec.specification.constraints.{key}.min", f"min ({lo}) must be <= max ({hi})"
            )
        else:
            constraints.append(Constraint(key, lo, hi))
    parameters = _parameters(spec.get("parameters") or [], arch, issues)
    _check_environment_queries(spec.get("tuning"), assumptions, invariants + properties, issues)
    if issues.items:
        raise InvalidSpecError(issues.items)
    target = spec.get("target") or {}
    meta = doc.get("metadata") or {}
    return {
        "name": meta["name"],
        "namespace": meta.get("namespace"),
        "system_type": spec.get("systemType") or infer_system_type(arch),
        "target": Target(target.get("deployment"), target.get("configMap")),
        "architecture": arch,
        "specification": FormalSpecification(
            tuple(assumptions), tuple(invariants), tuple(properties), tuple(constraints)
        ),
        "parameters": tuple(parameters),
        "tuning": _tuning(spec.get("tuning")),
    }
