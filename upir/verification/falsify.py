"""Refutation without a solver: concrete environments tried on the exact model.

When the composed ranges neither prove nor refute a property, a violation is
often at a corner of the environment boxes (the model is monotone in most of its
inputs, ``docs/model.md`` section 3): the highest load, the slowest and least
reliable services. Trying a handful of such corners with the exact Python
equations (:mod:`upir.verification.reference`) costs well under a millisecond
each, against milliseconds to tens of milliseconds for the solver.

This can only ever *refute*: a candidate counts only when it lies in the
physical domains, satisfies every assumption it binds, and makes the property's
target false at some step of the run from empty queues under that environment
held constant (checked with exact rationals, then again by the counterexample's
own replay). Every step of that run is reachable, so a predicate false at one of
them violates ALWAYS; for the other operators only step 0 of a stateless cone
is used (every step then looks the same). When no candidate violates, nothing is concluded and
the solver decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.expr.ast import names
from upir.verification import reference
from upir.verification.intervals import Bound, Interval
from upir.verification.structure import Structure, Support

__all__ = [
    "MAX_CANDIDATES",
    "MAX_MODEL_STEPS",
    "corner_environments",
    "fails_at",
    "falsify",
    "pred_names",
]

MAX_CANDIDATES = 16
"""Most environments tried per property."""

MAX_MODEL_STEPS = 32
"""Most exact model steps evaluated per property, over all candidates (one
costs a fraction of a millisecond)."""


def corner_environments(
    st: Structure,
    env_names: Sequence[str],
    boxes: Mapping[str, Interval],
    witness: Mapping[str, Fraction],
) -> Iterator[dict[str, Fraction]]:
    """Environments over ``env_names`` to try, most promising first: every
    name at the top of its box; then the same with one name at the bottom
    (a batcher waits longest at the lowest load, say); then every name at the
    bottom; then ``witness`` (one allowed environment). A box end that is
    infinite or outside the name's physical domain (an open bound) is replaced
    by the witness's value; a name with neither gives no candidates at all."""
    hi: dict[str, Fraction] = {}
    lo: dict[str, Fraction] = {}
    for n in env_names:
        box = boxes.get(n)
        fallback = witness.get(n)
        top = _usable(st, n, box.hi if box is not None else None, fallback)
        bottom = _usable(st, n, box.lo if box is not None else None, fallback)
        if top is None or bottom is None:
            return
        hi[n], lo[n] = top, bottom
    yield hi
    for n in env_names:
        if lo[n] != hi[n]:
            yield {**hi, n: lo[n]}
    if lo != hi:
        yield lo
    if all(n in witness for n in env_names):
        yield {n: witness[n] for n in env_names}


def _usable(
    st: Structure, name: str, end: Bound | None, fallback: Fraction | None
) -> Fraction | None:
    if isinstance(end, Fraction) and st.domain(name).contains(end):
        return end
    return fallback


def falsify(
    st: Structure,
    upir: UPIR,
    prop: TemporalProperty,
    support: Support,
    params: Mapping[str, Fraction],
    step_ms: Fraction,
    candidates: Iterator[dict[str, Fraction]],
    witness: Mapping[str, Fraction],
    steps: int = 0,
) -> tuple[dict[str, Fraction], int] | None:
    """The first of ``candidates`` (at most :data:`MAX_CANDIDATES`) that is an
    allowed environment and, held constant from empty queues, makes ``prop``
    fail, with the step where it fails first; None when none does (or when
    the operator needs more than one step to fail on a stateful cone).

    A stateful ALWAYS property is followed for up to ``steps`` steps after step
    0 (a queue that fills may violate it later), until the queue lengths stop
    changing, within :data:`MAX_MODEL_STEPS` steps over all candidates.

    The names a candidate leaves out take ``witness``'s values (an allowed
    environment): candidates cover every name that shares an assumption with
    the names they bind, so the union is allowed too."""
    stateful = support.stateful
    if stateful and prop.operator is not TemporalOperator.ALWAYS:
        return None
    last = steps if stateful else 0
    empty = {q: Fraction(0) for q in st.of_type("queue")}
    seen: list[dict[str, Fraction]] = []
    budget = MAX_MODEL_STEPS
    for env in candidates:
        if len(seen) >= MAX_CANDIDATES:
            break
        if env in seen:
            continue
        seen.append(env)
        if not reference.env_allowed(st, upir, env):
            continue
        full = reference.complete_env(env, witness)
        if not st.env_domains.keys() <= full.keys():
            continue  # nothing allowed to complete it with: no run to try
        lengths = empty
        for t in range(last + 1):
            if budget <= 0:
                return None
            budget -= 1
            result = reference.step(st, params, full, lengths, step_ms)
            if fails_at(prop, result.values):
                return env, t
            if result.next_lengths == lengths:
                break  # a fixed point: every later step is the same
            lengths = result.next_lengths
    return None


def fails_at(prop: TemporalProperty, values: Mapping[str, Fraction]) -> bool:
    """Whether one step's values already decide a violation: a predicate
    divides by zero there, or the operator's target (the trigger for
    UNTIL/SINCE, else the predicate) is false there."""
    p = reference.truth(prop.predicate, values)
    q = reference.truth(prop.trigger, values) if prop.trigger is not None else False
    if p is None or q is None:
        return True
    return not (q if prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE) else p)


def pred_names(prop: TemporalProperty) -> set[str]:
    """Every name the predicate and the trigger mention."""
    out = set(names(prop.predicate))
    if prop.trigger is not None:
        out |= names(prop.trigger)
    return out
