"""Human explanations: unsat cores mapped back to the resource's names.

Every constraint the proposer holds carries a :class:`Label`: a parameter
domain, a property required on one counterexample run, or a candidate excluded
because the verifier could not decide it. An unsat core is a set of labels; the
explanation names the parameter domains, the properties with the environments
that refute them, and the assumptions that allow those environments, e.g.::

    no values of gateway.timeout_ms in [50, 2000] (step 10), gateway.retries in
    [0, 5] satisfy: retry_budget; fast under env.gateway_service_ms = 40
    (allowed by: 5 <= env.gateway_service_ms <= 40)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from upir.core.upir import UPIR
from upir.expr.ast import names
from upir.expr.printer import to_source
from upir.synthesis.sketch import Sketch

Env = Mapping[str, Fraction]

MAX_SHOWN_STEPS = 6
"""Per-step values shown for a run before eliding the rest."""


@dataclass(frozen=True, slots=True)
class Label:
    """What one tracked constraint means. ``kind``: ``domain`` (``hole`` set),
    ``property`` (``prop`` and the run ``env``, ``env_names`` the ones that
    matter), or ``blocked`` (``candidate`` and ``reason``)."""

    kind: str
    hole: str = ""
    prop: str = ""
    env: tuple[Env, ...] = ()
    env_names: frozenset[str] = frozenset()
    candidate: Mapping[str, Fraction] | None = None
    reason: str = ""
    run: str = "step"
    """How ``env`` is used: ``step``, ``run`` or ``steady`` (see
    :class:`upir.synthesis.encoding.Instance`)."""


def number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def values_text(values: Mapping[str, Fraction]) -> str:
    return ", ".join(f"{k} = {number(v)}" for k, v in values.items())


def run_text(env: Sequence[Env], keep: frozenset[str]) -> str:
    """A run's environment restricted to ``keep``: one line when it is the same
    at every step, per-step lists otherwise."""
    shown = sorted(n for n in keep if any(n in e for e in env))
    if not shown:
        return ""
    if len(env) == 1 or all(all(e.get(n) == env[0].get(n) for n in shown) for e in env[1:]):
        held = f" (held for {len(env)} steps)" if len(env) > 1 else ""
        return ", ".join(f"{n} = {number(env[0][n])}" for n in shown) + held
    parts = []
    for n in shown:
        seq = [number(e[n]) if n in e else "?" for e in env[:MAX_SHOWN_STEPS]]
        more = ", ..." if len(env) > MAX_SHOWN_STEPS else ""
        parts.append(f"{n} = [{', '.join(seq)}{more}] per step")
    return f"a {len(env)}-step run with " + ", ".join(parts)


def assumptions_for(upir: UPIR, env_names: Iterable[str]) -> list[str]:
    """The assumptions that bound any of ``env_names``, as written."""
    wanted = set(env_names)
    return [to_source(a.expr) for a in upir.specification.assumptions if names(a.expr) & wanted]


def describe_property(label: Label, upir: UPIR) -> str:
    where = run_text(label.env, label.env_names)
    if not where:
        return label.prop
    if label.run == "steady":
        where += " held until the queues settle"
    text = f"{label.prop} under {where}"
    allowed = assumptions_for(upir, label.env_names)
    if allowed:
        text += f" (allowed by: {'; '.join(allowed)})"
    return text


def explain_core(core: Sequence[str], labels: Mapping[str, Label], sketch: Sketch) -> str:
    """The unsat explanation for ``core`` (labels of conflicting constraints)."""
    used = [labels[c] for c in core if c in labels]
    domains = [sketch.hole(lb.hole) for lb in used if lb.kind == "domain"]
    props = [lb for lb in used if lb.kind == "property"]
    blocked = [lb for lb in used if lb.kind == "blocked"]
    if domains:
        subject = ", ".join(h.describe() for h in domains)
    elif sketch.holes:
        subject = ", ".join(h.name for h in sketch.holes) + " (in any domain)"
    else:
        subject = "the parameters (none is tunable)"
    items: list[str] = []
    seen: set[str] = set()
    for lb in props:
        text = describe_property(lb, sketch.upir)
        if text not in seen:
            seen.add(text)
            items.append(text)
    if blocked:
        items.append(
            f"{len(blocked)} candidate(s) the verifier could not decide excluded "
            f"({'; '.join(lb.reason for lb in blocked[:3])})"
        )
    if not items:
        return f"no values of {subject} exist"
    text = f"no values of {subject} satisfy: " + "; ".join(items)
    if sketch.fixed and sketch.holes:
        text += " (the other parameters keep their current values)"
    return text
