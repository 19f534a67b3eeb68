"""What a counterexample violates, in the predicate's own quantities.

A counterexample says *where* a property fails (the environment, the step); a
user fixing the spec also needs *what* fails: for ``gateway.timeout_ms *
(gateway.retries + 1) <= 2000`` that the left side is 2400 with ``timeout_ms =
800`` and ``retries = 2``, for ``orders.dropped == 0`` that ``orders.dropped`` is
4.45 at step 3. :func:`explain_violation` recomputes every comparison of the
predicate (and the trigger, for UNTIL/SINCE) exactly, with the counterexample's
parameters, environment and model state at the step that shows the violation,
with :mod:`upir.expr.evaluate` (no solver), so what is shown is what replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from upir.core.temporal import TemporalProperty
from upir.expr.ast import Compare, Expr, Name, Num, children, name_nodes
from upir.expr.evaluate import EvaluationError, evaluate
from upir.expr.printer import format_number, to_source
from upir.verification.reference import UNBOUNDED, unbounded_names
from upir.verification.results import Counterexample


@dataclass(frozen=True)
class Comparison:
    """One comparison of the predicate at the step: its source text, each
    operand's text and exact value (``None`` when it cannot be evaluated there)
    and whether it holds."""

    source: str
    operands: tuple[tuple[str, Fraction | None], ...]
    ops: tuple[str, ...]
    holds: bool | None
    simple: tuple[bool, ...]
    """Per operand: a literal or a bare name."""

    def evaluated(self) -> str:
        """The comparison with each operand replaced by its value: ``2400 <= 2000``."""
        parts = [show_number(self.operands[0][1])]
        for op, (_, value) in zip(self.ops, self.operands[1:], strict=True):
            parts += [op, show_number(value)]
        return " ".join(parts)


@dataclass(frozen=True)
class Violation:
    """The predicate's quantities at ``step``: its comparisons and every name it
    mentions with its value. ``last`` is True when the property fails on the
    trace as a whole (WITHIN, EVENTUALLY, UNTIL, SINCE) and ``step`` is the end
    of the trace rather than a first failing step."""

    step: int
    last: bool
    comparisons: tuple[Comparison, ...]
    values: Mapping[str, Fraction]
    unbounded: tuple[str, ...] = ()
    """Names the predicate reads that have no finite bound at the step (a
    saturated service's latency, docs/model.md section 3.1)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "endOfTrace": self.last,
            "comparisons": [
                {
                    "source": c.source,
                    "evaluated": c.evaluated(),
                    "holds": c.holds,
                    "operands": [
                        {"source": s, "value": None if v is None else float(v)}
                        for s, v in c.operands
                    ],
                }
                for c in self.comparisons
            ],
            "values": {k: float(v) for k, v in self.values.items()},
            "unbounded": list(self.unbounded),
        }


def explain_violation(prop: TemporalProperty, cex: Counterexample) -> Violation:
    """The comparisons of ``prop`` evaluated at the step of ``cex`` that shows
    the violation (its first failing step, else the last step of the trace)."""
    steps = max(len(cex.trace), 1 if cex.constant else len(cex.env))
    last = cex.violated_at is None
    step = cex.violated_at if cex.violated_at is not None else max(steps - 1, 0)
    values: dict[str, Fraction] = dict(cex.params)
    if cex.env:
        values.update(cex.env_at(min(step, len(cex.env) - 1) if not cex.constant else 0))
    if cex.trace:
        values.update(cex.trace[min(step, len(cex.trace) - 1)])
    unbounded = frozenset(unbounded_names(values))
    values = {k: x for k, x in values.items() if k not in unbounded and not k.endswith(UNBOUNDED)}
    exprs = [prop.predicate] + ([prop.trigger] if prop.trigger is not None else [])
    comparisons = tuple(_compare(c, values) for e in exprs for c in _comparisons(e))
    mentioned: dict[str, Fraction] = {}
    without_bound: list[str] = []
    for e in exprs:
        for node in name_nodes(e):
            if node.name in values:
                mentioned[node.name] = values[node.name]
            elif node.name in unbounded and node.name not in without_bound:
                without_bound.append(node.name)
    return Violation(step, last, comparisons, mentioned, tuple(without_bound))


def describe_violation(prop: TemporalProperty, cex: Counterexample) -> list[str]:
    """:func:`explain_violation` as lines for people::

    ALWAYS gw.timeout_ms * (gw.retries + 1) <= 2000 fails at step 0, t = 0 ms:
      gw.timeout_ms * (gw.retries + 1) <= 2000: 2400 <= 2000 is false
        gw.timeout_ms * (gw.retries + 1) = 2400
      where gw.timeout_ms = 800, gw.retries = 2
    """
    v = explain_violation(prop, cex)
    where = f"at the end of the trace (step {v.step})" if v.last else f"at step {v.step}"
    if not v.last and cex.step_ms:
        where += f", t = {v.step * cex.step_ms} ms"
    text = to_source(prop.predicate)
    if prop.trigger is not None:
        text += f" / trigger {to_source(prop.trigger)}"
    lines = [f"{prop.operator.value} {text} fails {where}:"]
    for c in v.comparisons:
        verdict = "holds" if c.holds else "is false" if c.holds is False else "cannot be evaluated"
        if c.holds is None and any(n in c.source for n in v.unbounded):
            verdict = "is undefined (no finite bound)"
        lines.append(f"  {c.source}: {c.evaluated()} {verdict}")
        for source, value in compound_operands(c):
            lines.append(f"    {source} = {show_number(value)}")
    for name in v.unbounded:
        owner = name.split(".", 1)[0]
        why = (
            "a service is saturated (utilization >= 1)"
            if owner == "system"
            else f"{owner} is saturated (utilization >= 1)"
        )
        lines.append(f"  {name} has no finite bound: {why}")
    # a bare name already shows its value in the comparison itself
    if v.values and any(compound_operands(c) for c in v.comparisons):
        shown = ", ".join(f"{k} = {show_number(x)}" for k, x in v.values.items())
        lines.append(f"  where {shown}")
    return lines


def _comparisons(expr: Expr) -> list[Compare]:
    """The comparisons of a predicate, in source order (``and``/``or``/``not``
    are looked through; comparisons never nest in one another)."""
    found: list[Compare] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Compare):
            found.append(node)
        else:
            stack.extend(reversed(children(node)))
    return found


def _compare(c: Compare, values: Mapping[str, Fraction]) -> Comparison:
    operands: list[tuple[str, Fraction | None]] = []
    for operand in c.operands:
        try:
            value = evaluate(operand, values)
        except EvaluationError:
            value = None
        operands.append((to_source(operand), value if isinstance(value, Fraction) else None))
    try:
        holds = evaluate(c, values)
    except EvaluationError:
        holds = None
    return Comparison(
        to_source(c),
        tuple(operands),
        tuple(c.ops),
        holds if isinstance(holds, bool) else None,
        tuple(isinstance(o, Name | Num) for o in c.operands),
    )


def compound_operands(c: Comparison) -> list[tuple[str, Fraction]]:
    """The operands worth spelling out: neither a literal nor a bare name
    (whose value the list of names shows)."""
    return [
        (s, v)
        for (s, v), simple in zip(c.operands, c.simple, strict=True)
        if v is not None and not simple
    ]


def show_number(value: Fraction | None) -> str:
    """An exact value for people: whole and short decimal numbers exactly, others
    to 6 significant digits, ``?`` for none."""
    if value is None:
        return "?"
    if value.denominator == 1 or _finite_decimal(value):
        return format_number(value)
    return f"{float(value):.6g}"


def _finite_decimal(value: Fraction) -> bool:
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1 and len(format_number(value)) <= 12
