"""Refuting a candidate in the steady state, without the verifier.

Near the edge of the feasible region a queue may overflow only slowly: the
excess of inflow over drain is tiny, the queue takes more steps to fill than the
verifier's steady-state search allows (``MAX_STEADY_STEPS``) and more than bounded
model checking unrolls, and the verifier answers TIMEOUT after its full time
limit. For such candidates this module asks Z3 directly for an allowed
environment, held constant, whose steady state (every queue with a positive
excess full, the others empty) violates an ALWAYS property, with no bound on the
fill time, and confirms it with the exact reference model.

It only handles cones whose queues have no queue upstream, where the steady
state is provably reached from empty (the closed form of
:class:`upir.synthesis.encoding.FixedEnvUnrolling`). The environment it returns
is a counterexample in the same sense as the synthesizer's steady-state
constraints (ALWAYS at every reachable step, which a bounded proof does not
cover); a verifier PROVED is still required for SUCCESS.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.synthesis.encoding import Encoder, env_names
from upir.verification import reference
from upir.verification import z3util as z
from upir.verification.encoder import ParamValue, Unrolling
from upir.verification.exprs import defined, encode_bool, needs_guard
from upir.verification.z3util import CheckOutcome, CheckStatus, Formula, Term

OVERLOAD_TIMEOUT_MS = 1000
"""Longest search for the most overloaded environment, ms."""


def applies(encoder: Encoder, prop: TemporalProperty) -> bool:
    """Whether ``prop`` is an ALWAYS property over queues this module handles."""
    support = encoder.support(prop)
    if not support.stateful or prop.operator is not TemporalOperator.ALWAYS:
        return False
    queues = {q for q in encoder.st.of_type("queue") if q in support.components}
    return bool(queues) and queues <= encoder.closed_form


def refute(
    encoder: Encoder, prop: TemporalProperty, values: Mapping[str, Fraction]
) -> dict[str, Fraction] | None:
    """An allowed environment whose steady state violates ``prop`` with the holes
    at ``values``; None when there is none, Z3 cannot tell, or the exact
    reference model does not confirm it."""
    if not applies(encoder, prop):
        return None
    st, upir, settings = encoder.st, encoder.upir, encoder.settings
    params: dict[str, Fraction] = {**encoder.sketch.fixed, **values}
    symbolic: Mapping[str, ParamValue] = params
    u = Unrolling(st, symbolic, settings.step_ms, upir.specification.assumptions, tag="steady!")
    queues = [q for q in st.of_type("queue") if q in encoder.support(prop).components]
    step = z.num(Fraction(settings.step_ms, 1000))
    state: list[Formula] = []
    overload: list[Term] = []
    for q in queues:
        drain = u.drain(q, 0)
        length = u.length(q, 0)
        if drain is None:
            state.append(length == z.num(0))
            continue
        excess = u.in_items(q, 0) - drain * step
        overload.append(excess)
        state.append(length == z.ite(excess > z.num(0), z.num(params[f"{q}.capacity"]), z.num(0)))
    lookup = u.lookup(0)
    bad = [z.not_(encode_bool(prop.predicate, lookup))]
    if needs_guard(prop.predicate):
        bad.append(z.not_(defined(prop.predicate, lookup, u.finite(0))))
    if {q for (q, _) in u.length_vars()} - set(queues):
        return None
    constraints = [*state, z.or_(bad), *u.environment([0])]
    # Any violating environment refutes the candidate; the most overloaded one
    # also refutes the neighbours that a barely overloaded one would leave (the
    # next candidates), so ask for it first and settle for any on no answer.
    outcome = _most_overloaded(encoder, constraints, overload)
    if outcome is None:
        solver = z.make_solver(settings)
        solver.add(*constraints)
        outcome = z.check(solver)
    if outcome.status is not CheckStatus.SAT or outcome.model is None:
        return None
    env = {name: z.value_of(outcome.model, var) for (name, _), var in u.env_vars().items()}
    return env if _confirmed(encoder, prop, params, env, queues) else None


def _most_overloaded(
    encoder: Encoder, constraints: list[Formula], overload: list[Term]
) -> CheckOutcome | None:
    if not overload:
        return None
    opt = z.make_optimize(encoder.settings)
    opt.set("timeout", min(encoder.settings.timeout_ms, OVERLOAD_TIMEOUT_MS))
    for c in constraints:
        opt.add(c)
    total = overload[0]
    for term in overload[1:]:
        total = total + term
    opt.maximize(total)
    outcome = z.check(opt)
    return outcome if outcome.status is CheckStatus.SAT else None


def _confirmed(
    encoder: Encoder,
    prop: TemporalProperty,
    params: Mapping[str, Fraction],
    env: Mapping[str, Fraction],
    queues: list[str],
) -> bool:
    """Exactly, with the reference model: the environment is allowed; from empty
    queues, exactly the queues taken as full grow in the first step (their
    excess is positive, so the closed form fills them); the state with those
    queues full is a fixed point; and the property fails there."""
    st = encoder.st
    if not reference.env_allowed(st, encoder.upir, env):
        return False
    full_env = reference.filler_env(st, env, env_names(prop))
    step_ms = Fraction(encoder.settings.step_ms)
    empty = {q: Fraction(0) for q in st.of_type("queue")}
    first = reference.step(st, params, full_env, empty, step_ms)
    steady = dict(empty)
    for q in queues:
        if first.next_lengths[q] > 0:
            steady[q] = params[f"{q}.capacity"]
    at = reference.step(st, params, full_env, steady, step_ms)
    if any(at.next_lengths[q] != steady[q] for q in queues):
        return False
    return reference.truth(prop.predicate, at.values) is not True
