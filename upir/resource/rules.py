"""The CEL rules (``x-kubernetes-validations``) of the UPIR schema, each with its Python twin.

Each :class:`CelRule` holds the rule text the CRD carries and a Python function
that decides the same thing. The CLI runs the twin by default: cel-python
interprets a one-line rule in about 1.4 ms and the name-uniqueness style of rule
(``self.all(c, self.exists_one(...))``) over 256 items in about 30 s, while a
legal document can need about 1,700 rule evaluations. ``upir.resource.validate``
can also run the CEL itself (``engine="cel"``), and the tests run both engines on
generated inputs and on every test document, requiring the same verdict and the
same message, so the twins cannot drift from the rules the API server runs.

Twins receive the node's plain Python value *after* it passed the structural
schema (types, required fields), as CEL does in the API server. Numbers in
``type: number`` fields are doubles in Kubernetes CEL, so twins compare
``float`` values, and messages print doubles the way cel-go's ``string(double)``
does (:func:`go_double`).

Cost notes (Kubernetes estimates each rule's worst case from maxItems and
maxLength; the limit is 10,000,000 per rule and 1,000,000 at run time): the
quadratic rules below walk two lists of at most 256 items comparing names of at
most 63 characters, about 256 x 256 x 10 = 655,000 units in the worst case.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

_REASONS = frozenset(
    {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
)


@dataclass(frozen=True, slots=True)
class CelRule:
    """One ``x-kubernetes-validations`` entry and its Python twin.

    ``check(value)`` returns whether ``value`` (the node ``self`` is bound to)
    satisfies ``rule``. Exactly one of ``message`` (fixed text) and
    ``message_expression`` (CEL, with ``explain`` as its twin) is set.
    ``field_path`` (e.g. ``.min``) says which child field an error names.
    """

    rule: str
    check: Callable[[Any], bool]
    message: str | None = None
    message_expression: str | None = None
    explain: Callable[[Any], str] | None = None
    field_path: str | None = None
    reason: str = "FieldValueInvalid"

    def __post_init__(self) -> None:
        if (self.message is None) == (self.message_expression is None):
            raise ValueError(f"rule {self.rule!r}: set exactly one of message, message_expression")
        if (self.message_expression is None) != (self.explain is None):
            raise ValueError(f"rule {self.rule!r}: message_expression needs its twin, explain")
        if self.reason not in _REASONS:
            raise ValueError(f"rule {self.rule!r}: unknown reason {self.reason!r}")

    def validation(self) -> dict[str, str]:
        """The ``x-kubernetes-validations`` entry for the CRD."""
        out = {"rule": self.rule}
        if self.message is not None:
            out["message"] = self.message
        if self.message_expression is not None:
            out["messageExpression"] = self.message_expression
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        out["reason"] = self.reason
        return out

    def message_for(self, value: Any) -> str:
        """The message the API server would show when ``check(value)`` is false."""
        if self.explain is not None:
            return self.explain(value)
        assert self.message is not None  # guaranteed by __post_init__
        return self.message


def go_double(value: float | int) -> str:
    """``value`` as cel-go's ``string(double)`` prints it (Go's ``%g`` shortest form).

    500.0 -> ``500``, 0.25 -> ``0.25``, 1e6 -> ``1e+06``, 1e-5 -> ``1e-05``."""
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exp, int)
    # decimal point position relative to the digit string, as in Go's decimal type
    dp = len("".join(map(str, digit_tuple))) + exp
    nd = len(digits)
    neg = "-" if sign else ""
    e = dp - 1
    if e < -4 or e >= 6:  # Go: shortest %g switches to %e at exponent < -4 or >= 6
        mant = digits[0] + ("." + digits[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= nd:
        return f"{neg}{digits}{'0' * (dp - nd)}"
    return f"{neg}{digits[:dp]}.{digits[dp:]}"


def _has(node: Mapping[str, Any], key: str) -> bool:
    # Kubernetes prunes null values of non-nullable fields, so null means absent.
    return node.get(key) is not None


def _f(node: Mapping[str, Any], key: str) -> float:
    return float(node[key])


# ---------------------------------------------------------------- parameters[]

PARAMETER_MIN_LE_MAX = CelRule(
    rule="self.min <= self.max",
    check=lambda p: _f(p, "min") <= _f(p, "max"),
    message_expression="'min (' + string(self.min) + ') must be <= max (' + string(self.max) + ')'",
    explain=lambda p: f"min ({go_double(p['min'])}) must be <= max ({go_double(p['max'])})",
    field_path=".min",
)

PARAMETER_STEP_FITS = CelRule(
    # Skipped when min > max: that rule already reports the real problem.
    rule="!has(self.step) || self.min > self.max || self.step <= self.max - self.min",
    check=lambda p: (
        not _has(p, "step")
        or _f(p, "min") > _f(p, "max")
        or _f(p, "step") <= _f(p, "max") - _f(p, "min")
    ),
    message_expression=(
        "'step (' + string(self.step) + ') must be <= max - min (' + string(self.max - self.min) + ')'"
    ),
    explain=lambda p: (
        f"step ({go_double(p['step'])}) must be <= max - min ({go_double(_f(p, 'max') - _f(p, 'min'))})"
    ),
    field_path=".step",
)

# ------------------------------------------------ invariants[] and properties[]

_TRIGGER_OPS = ("UNTIL", "SINCE")

WITHIN_NEEDS_TIME_BOUND = CelRule(
    rule="self.operator != 'WITHIN' || has(self.timeBoundMs)",
    check=lambda p: p["operator"] != "WITHIN" or _has(p, "timeBoundMs"),
    message="WITHIN needs timeBoundMs (the time bound, in ms)",
    field_path=".timeBoundMs",
    reason="FieldValueRequired",
)

TIME_BOUND_ONLY_FOR_WITHIN = CelRule(
    rule="!has(self.timeBoundMs) || self.operator == 'WITHIN'",
    check=lambda p: not _has(p, "timeBoundMs") or p["operator"] == "WITHIN",
    message_expression="'only WITHIN takes timeBoundMs (operator is ' + self.operator + ')'",
    explain=lambda p: f"only WITHIN takes timeBoundMs (operator is {p['operator']})",
    field_path=".timeBoundMs",
    reason="FieldValueForbidden",
)

TRIGGER_NEEDED = CelRule(
    rule="!(self.operator in ['UNTIL', 'SINCE']) || has(self.trigger)",
    check=lambda p: p["operator"] not in _TRIGGER_OPS or _has(p, "trigger"),
    message_expression="self.operator + ' needs a trigger predicate (predicate ' + self.operator + ' trigger)'",
    explain=lambda p: (
        f"{p['operator']} needs a trigger predicate (predicate {p['operator']} trigger)"
    ),
    field_path=".trigger",
    reason="FieldValueRequired",
)

TRIGGER_ONLY_FOR_UNTIL_SINCE = CelRule(
    rule="!has(self.trigger) || self.operator in ['UNTIL', 'SINCE']",
    check=lambda p: not _has(p, "trigger") or p["operator"] in _TRIGGER_OPS,
    message_expression="'only UNTIL and SINCE take a trigger (operator is ' + self.operator + ')'",
    explain=lambda p: f"only UNTIL and SINCE take a trigger (operator is {p['operator']})",
    field_path=".trigger",
    reason="FieldValueForbidden",
)

INVARIANT_IS_ALWAYS = CelRule(
    rule="self.operator == 'ALWAYS'",
    check=lambda p: p["operator"] == "ALWAYS",
    message_expression=(
        "'invariants must be ALWAYS (got ' + self.operator + '); list other temporal properties under properties'"
    ),
    explain=lambda p: (
        f"invariants must be ALWAYS (got {p['operator']}); list other temporal properties under properties"
    ),
    field_path=".operator",
)


def _shared_names(spec: Mapping[str, Any]) -> list[str]:
    props = [p["name"] for p in spec.get("properties") or ()]
    return [i["name"] for i in spec.get("invariants") or () if i["name"] in props]


PROPERTY_NAMES_UNIQUE = CelRule(
    # Within each list the names are unique by x-kubernetes-list-type: map; this
    # covers a name used by both lists.
    rule=(
        "!has(self.invariants) || !has(self.properties) || "
        "self.invariants.all(i, !self.properties.exists(p, p.name == i.name))"
    ),
    check=lambda s: not _shared_names(s),
    message_expression=(
        '"\'" + self.invariants.filter(i, self.properties.exists(p, p.name == i.name))[0].name'
        ' + "\' names both an invariant and a property; property names must be unique"'
    ),
    explain=lambda s: (
        f"'{_shared_names(s)[0]}' names both an invariant and a property; property names must be unique"
    ),
    field_path=".properties",
    reason="FieldValueDuplicate",
)

# ---------------------------------------------------------------- architecture


def _undeclared(arch: Mapping[str, Any], end: str) -> list[str]:
    names = {c["name"] for c in arch["components"]}
    return [c[end] for c in arch.get("connections") or () if c[end] not in names]


CONNECTION_FROM_DECLARED = CelRule(
    rule=(
        "!has(self.connections) || "
        "self.connections.all(c, self.components.exists(d, d.name == c.from))"
    ),
    check=lambda a: not _undeclared(a, "from"),
    message_expression=(
        '"connection from \'" + self.connections.filter(c, '
        '!self.components.exists(d, d.name == c.from))[0].from + "\': no component has that name"'
    ),
    explain=lambda a: f"connection from '{_undeclared(a, 'from')[0]}': no component has that name",
    field_path=".connections",
)

CONNECTION_TO_DECLARED = CelRule(
    rule=(
        "!has(self.connections) || "
        "self.connections.all(c, self.components.exists(d, d.name == c.to))"
    ),
    check=lambda a: not _undeclared(a, "to"),
    message_expression=(
        '"connection to \'" + self.connections.filter(c, '
        '!self.components.exists(d, d.name == c.to))[0].to + "\': no component has that name"'
    ),
    explain=lambda a: f"connection to '{_undeclared(a, 'to')[0]}': no component has that name",
    field_path=".connections",
)

CONNECTION_NOT_SELF = CelRule(
    rule="self.from != self.to",
    check=lambda c: c["from"] != c["to"],
    message_expression="'a component cannot connect to itself (' + self.from + ')'",
    explain=lambda c: f"a component cannot connect to itself ({c['from']})",
    field_path=".to",
)

COMPONENT_NAME_NOT_RESERVED = CelRule(
    # env.* and system.* are expression scopes (DESIGN.md section 3).
    rule="!(self.name in ['env', 'system'])",
    check=lambda c: c["name"] not in ("env", "system"),
    message_expression='"\'" + self.name + "\' is reserved for expressions (env.*, system.*); pick another name"',
    explain=lambda c: (
        f"'{c['name']}' is reserved for expressions (env.*, system.*); pick another name"
    ),
    field_path=".name",
)

# ----------------------------------------------------------------- constraints

BOUNDS_PRESENT = CelRule(
    rule="has(self.min) || has(self.max)",
    check=lambda b: _has(b, "min") or _has(b, "max"),
    message="set min, max or both",
    reason="FieldValueRequired",
)

BOUNDS_MIN_LE_MAX = CelRule(
    rule="!has(self.min) || !has(self.max) || self.min <= self.max",
    check=lambda b: not (_has(b, "min") and _has(b, "max")) or _f(b, "min") <= _f(b, "max"),
    message_expression="'min (' + string(self.min) + ') must be <= max (' + string(self.max) + ')'",
    explain=lambda b: f"min ({go_double(b['min'])}) must be <= max ({go_double(b['max'])})",
    field_path=".min",
)

ALL_RULES: tuple[CelRule, ...] = (
    PARAMETER_MIN_LE_MAX,
    PARAMETER_STEP_FITS,
    WITHIN_NEEDS_TIME_BOUND,
    TIME_BOUND_ONLY_FOR_WITHIN,
    TRIGGER_NEEDED,
    TRIGGER_ONLY_FOR_UNTIL_SINCE,
    INVARIANT_IS_ALWAYS,
    PROPERTY_NAMES_UNIQUE,
    CONNECTION_FROM_DECLARED,
    CONNECTION_TO_DECLARED,
    CONNECTION_NOT_SELF,
    COMPONENT_NAME_NOT_RESERVED,
    BOUNDS_PRESENT,
    BOUNDS_MIN_LE_MAX,
)

TWINS: Mapping[str, CelRule] = MappingProxyType({r.rule: r for r in ALL_RULES})
"""Rule text -> rule with its twin; the validator finds a node's twins here."""

if len(TWINS) != len(ALL_RULES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("two CEL rules share the same text; twins are looked up by text")
