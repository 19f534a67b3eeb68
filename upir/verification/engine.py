"""Monolithic checking of one property: the whole cone of influence encoded in
one Z3 problem.

* Stateless predicates (no queue state in their cone) are decided at one step:
  every step sees an independent environment drawn from the same assumptions, so
  one step's validity is every step's (``proof="stateless"``); for EVENTUALLY and
  WITHIN the same environment repeated forever is the worst case, and UNTIL/SINCE
  reduce to their trigger.
* Stateful predicates are checked by bounded model checking from empty queues
  over ``bmc_steps`` (``proof="bounded:N"``) and ALWAYS ones then by k-induction,
  strengthened with the queue-empty invariants that are themselves inductive
  (``proof="inductive"``).
* Division by zero reached in a predicate, at any checked step, is a violation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from types import MappingProxyType

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.errors import SolverError
from upir.settings import SolverSettings
from upir.verification import reference
from upir.verification import z3util as z
from upir.verification.encoder import ParamValue, Unrolling, defined, encode_bool
from upir.verification.falsify import pred_names
from upir.verification.results import Counterexample, Verdict, VerificationResult
from upir.verification.structure import Structure, Support
from upir.verification.z3util import CheckStatus, Deadline, Formula

log = logging.getLogger(__name__)

MAX_HORIZON = 256
"""Most steps one bounded check unrolls (WITHIN bounds beyond it are UNKNOWN
unless the predicate is stateless or met earlier)."""

MAX_INDUCTION_DEPTH = 3

MAX_STEADY_STEPS = 1000
STEADY_FAST_STEPS = 50
"""Longest counterexample (in steps) the steady-state search builds: a queue must
fill within this many steps of one constant environment."""


def horizon_for(prop: TemporalProperty, settings: SolverSettings) -> tuple[int, bool]:
    """Steps to unroll, and whether that covers the property's own bound."""
    if prop.operator is TemporalOperator.WITHIN:
        assert prop.time_bound_ms is not None
        k = reference.within_steps(prop.time_bound_ms, Fraction(settings.step_ms))
        return min(k, MAX_HORIZON), k <= MAX_HORIZON
    return settings.bmc_steps, True


class Checker:
    """Checks properties of one UPIR (one parameter vector) monolithically."""

    def __init__(
        self,
        upir: UPIR,
        st: Structure,
        settings: SolverSettings,
        witness: Mapping[str, Fraction],
        known_empty: Sequence[str] = (),
    ) -> None:
        """``witness``: one environment the assumptions allow, binding every name
        the model, the assumptions and the properties use; a counterexample's
        environment takes from it the names the solver left unconstrained, so
        nothing in it is invented. ``known_empty``: queues already proved to stay
        empty in every reachable state (by the composed contracts), taken as
        lemmas instead of being searched for again."""
        self.upir = upir
        self.st = st
        self.settings = settings
        self.witness = witness
        self.params: dict[str, Fraction] = upir.param_values()
        self.known_empty = frozenset(known_empty)

    def _unrolling(self) -> Unrolling:
        params: Mapping[str, ParamValue] = self.params
        return Unrolling(
            self.st, params, self.settings.step_ms, self.upir.specification.assumptions
        )

    # -- entry point ---------------------------------------------------------
    def check(
        self, prop: TemporalProperty, support: Support, deadline: Deadline
    ) -> VerificationResult:
        if not support.stateful:
            return self._stateless(prop, support, deadline)
        return self._stateful(prop, support, deadline)

    # -- helpers -------------------------------------------------------------
    def _holds_at(
        self, u: Unrolling, expr_: TemporalProperty, t: int, trigger: bool = False
    ) -> Formula:
        expr = expr_.trigger if trigger else expr_.predicate
        assert expr is not None
        return encode_bool(expr, u.lookup(t))

    def _defined_at(self, u: Unrolling, prop: TemporalProperty, t: int) -> Formula:
        parts = [defined(prop.predicate, u.lookup(t), u.finite(t))]
        if prop.trigger is not None:
            parts.append(defined(prop.trigger, u.lookup(t), u.finite(t)))
        return z.and_(parts)

    def _inconclusive(
        self, prop: TemporalProperty, status: CheckStatus, reason: str
    ) -> VerificationResult:
        verdict = Verdict.TIMEOUT if status is CheckStatus.TIMEOUT else Verdict.UNKNOWN
        what = "ran out of time" if verdict is Verdict.TIMEOUT else "could not decide"
        return VerificationResult(prop, verdict, message=f"Z3 {what} ({reason})")

    def _env_steps(self, u: Unrolling, model: object, horizon: int) -> list[dict[str, Fraction]]:
        steps: list[dict[str, Fraction]] = [{} for _ in range(horizon + 1)]
        for (name, t), var in u.env_vars().items():
            if t <= horizon:
                steps[t][name] = z.value_of(model, var)
        return steps

    def counterexample(
        self,
        prop: TemporalProperty,
        support: Support,
        env_steps: list[dict[str, Fraction]],
        horizon: int,
        constant: bool,
        show_step: int = 0,
    ) -> tuple[Counterexample, bool]:
        """The counterexample with its trace recomputed exactly, and whether it
        replays (:func:`reference.replay`) as a violation.

        Each step's environment is the solver's values completed from the
        witness (:func:`reference.complete_env`), so it binds every name and
        satisfies every assumption. A constant environment is shown at
        ``show_step`` (0 for stateless predicates, whose every step looks the
        same; the violating step of a steady-state violation, computed in
        closed form however far it lies); a per-step environment in full."""
        step_ms = Fraction(self.settings.step_ms)
        keep = _trace_filter(support, prop, self.params)
        cone_params = {
            k: v for k, v in self.params.items() if k.split(".", 1)[0] in support.components
        }
        full_steps = [reference.complete_env(e, self.witness) for e in env_steps]
        if constant:
            full_steps = full_steps[:1]
            shown = [
                reference.constant_values(self.st, self.params, full_steps[0], step_ms, show_step)
            ]
            violated_at: int | None = (
                show_step if prop.operator is TemporalOperator.ALWAYS else None
            )
        else:
            shown = reference.simulate(self.st, self.params, full_steps, step_ms)
            violated_at = reference.first_violation(prop, shown)
        cex = Counterexample(
            env=tuple(_frozen(e) for e in full_steps),
            trace=tuple(_frozen(_shown_values(s, keep)) for s in shown),
            violated_at=violated_at,
            params=_frozen(cone_params),
            step_ms=self.settings.step_ms,
            horizon=horizon,
            constant=constant,
            shown=tuple(sorted(_shown_env(support, env_steps))),
        )
        ok = reference.replay(self.upir, prop, cex, self.st)
        if not ok:
            log.warning("counterexample for %r did not replay exactly", prop.name)
        return cex, ok

    def violated(self, prop: TemporalProperty, cex: Counterexample, ok: bool) -> VerificationResult:
        """VIOLATED with ``cex``; when it does not replay (the solver and the
        exact equations disagree: a defect of ours), ERROR instead, since a
        counterexample that does not replay is no evidence (and no pass)."""
        if not ok:
            return VerificationResult(
                prop,
                Verdict.ERROR,
                message="the solver found a violation whose counterexample does not replay "
                f"exactly ({cex.describe_env()}); please report this model defect",
            )
        where = cex.describe_env()
        if cex.constant and cex.violated_at:
            where += f" held constant from step 0; violated at step {cex.violated_at}"
        return VerificationResult(
            prop, Verdict.VIOLATED, counterexample=cex, message=f"violated: {where}"
        )

    # -- stateless -------------------------------------------------------------
    def _stateless(
        self,
        prop: TemporalProperty,
        support: Support,
        deadline: Deadline,
        empty: Sequence[str] = (),
    ) -> VerificationResult:
        u = self._unrolling()
        u.empty = frozenset(empty)
        use_trigger = prop.operator in (TemporalOperator.UNTIL, TemporalOperator.SINCE)
        target = self._holds_at(u, prop, 0, trigger=use_trigger)
        bad = z.or_([z.not_(self._defined_at(u, prop, 0)), z.not_(target)])
        solver = z.make_solver(self.settings, deadline)
        solver.add(*u.environment([0]))
        solver.add(bad)
        outcome = z.check(solver)
        if outcome.status is CheckStatus.UNSAT:
            return VerificationResult(
                prop,
                Verdict.PROVED,
                proof="stateless",
                message="holds at every step (stateless: one step decides all)",
            )
        if outcome.status is not CheckStatus.SAT:
            return self._inconclusive(prop, outcome.status, outcome.reason)
        horizon, _ = horizon_for(prop, self.settings)
        env = self._env_steps(u, outcome.model, 0)
        cex, ok = self.counterexample(prop, support, env, horizon, constant=True)
        return self.violated(prop, cex, ok)

    # -- stateful --------------------------------------------------------------
    def _queues(self, support: Support) -> list[str]:
        return [q for q in self.st.of_type("queue") if q in support.components]

    def _unroll(
        self, support: Support, steps: int, free_start: bool, empty: Sequence[str] = ()
    ) -> Unrolling:
        u = self._unrolling()
        u.empty = frozenset(empty)
        for q in self._queues(support):
            for t in range(steps + 1):
                u.length(q, t)
        u.initial_free = free_start
        return u

    def _frame(self, u: Unrolling, steps: int, lemmas: list[str]) -> list[Formula]:
        """Transitions, state bounds (or the empty start) and environment; the
        queues in ``lemmas`` are already constant 0 in ``u``."""
        out: list[Formula] = []
        for t in range(steps):
            out.extend(u.transition(t))
        if u.initial_free:
            for t in range(steps + 1):
                out.extend(u.state_bounds(t))
        else:
            out.extend(u.initial())
        out.extend(u.environment(range(steps + 1)))
        return out

    def _stateful(
        self, prop: TemporalProperty, support: Support, deadline: Deadline
    ) -> VerificationResult:
        known = [q for q in self._queues(support) if q in self.known_empty]
        try:
            found = self._houdini(support, deadline, known)
        except SolverError as err:
            log.debug("queue invariants of %r not found: %s", prop.name, err)
            found = None
        lemmas = known + (found or [])
        if lemmas and set(lemmas) == set(self._queues(support)):
            # Every queue in the cone stays empty in every reachable state (an
            # inductive invariant), so the state is the same at every step and the
            # one-step argument of stateless predicates applies.
            result = self._stateless(prop, support, deadline, empty=lemmas)
            if result.status is Verdict.PROVED:
                return replace(
                    result,
                    proof="inductive",
                    message="holds at every reachable step (queues "
                    + ", ".join(lemmas)
                    + " provably stay empty)",
                )
            return result
        if prop.operator is TemporalOperator.ALWAYS:
            # cheap one-step search for a queue that fills and then violates
            try:
                steady = self._steady_state(prop, support, deadline, lemmas)
            except SolverError as err:
                log.debug("steady-state search of %r failed: %s", prop.name, err)
                steady = None
            if steady is not None:
                return steady
        return self._bmc(prop, support, deadline, lemmas)

    def _bmc(
        self, prop: TemporalProperty, support: Support, deadline: Deadline, lemmas: list[str]
    ) -> VerificationResult:
        horizon, covers = horizon_for(prop, self.settings)
        # proven invariants of reachable states: the queues in ``lemmas`` are empty
        u = self._unroll(support, horizon, free_start=False, empty=lemmas)
        ps = [self._holds_at(u, prop, t) for t in range(horizon + 1)]
        qs = (
            [self._holds_at(u, prop, t, trigger=True) for t in range(horizon + 1)]
            if prop.trigger is not None
            else []
        )
        undefined = z.or_([z.not_(self._defined_at(u, prop, t)) for t in range(horizon + 1)])
        bad = z.or_([undefined, z.not_(_semantics(prop.operator, ps, qs))])
        solver = z.make_solver(self.settings, deadline)
        solver.add(*self._frame(u, horizon, []))
        solver.add(bad)
        outcome = z.check(solver)
        if outcome.status is CheckStatus.SAT:
            if not covers:
                return VerificationResult(
                    prop,
                    Verdict.UNKNOWN,
                    message=f"not met within {horizon} steps; the bound needs more than {MAX_HORIZON}",
                )
            env = self._env_steps(u, outcome.model, horizon)
            cex, ok = self.counterexample(prop, support, env, horizon, constant=False)
            return self.violated(prop, cex, ok)
        if outcome.status is not CheckStatus.UNSAT:
            return self._inconclusive(prop, outcome.status, outcome.reason)
        if prop.operator is not TemporalOperator.ALWAYS:
            # EVENTUALLY, WITHIN, UNTIL and SINCE are bounded by their own time
            return VerificationResult(
                prop,
                Verdict.PROVED,
                proof=f"bounded:{horizon}",
                message=f"holds on every trace of {horizon} steps from empty queues",
            )
        try:
            k = self._k_induction(prop, support, deadline, horizon, lemmas)
        except SolverError as err:
            log.debug("k-induction of %r failed: %s", prop.name, err)
            k = None
        if k is None:
            # ALWAYS is about all time: a bounded proof alone is no pass
            return VerificationResult(
                prop,
                Verdict.UNKNOWN,
                message=f"holds on every trace of {horizon} steps from empty queues "
                f"(bounded:{horizon}), but neither induction nor the steady-state "
                "argument decides longer runs; raise UPIR_BMC_STEPS or simplify the predicate",
            )
        return VerificationResult(
            prop,
            Verdict.PROVED,
            proof="inductive",
            message=f"holds at every reachable step ({k}-induction)",
        )

    def _steady_state(
        self,
        prop: TemporalProperty,
        support: Support,
        deadline: Deadline,
        lemmas: Sequence[str] = (),
    ) -> VerificationResult | None:
        """Look for a violation beyond the bounded horizon: under one environment
        held constant, every queue's inflow and drain are constant, so a queue
        either stays empty (inflow <= drain) or fills by (inflow - drain) per step
        until full and then stays full (:func:`reference.constant_fill`). Ask Z3
        for a constant environment whose *saturated* state violates the ALWAYS
        predicate; a queue that fills at all fills in finitely many steps, so that
        is a real violation however slow the leak. Short runs are preferred
        (queues full within ``STEADY_FAST_STEPS``), then any. None when there is
        no such violation (or no answer)."""
        for limit in (STEADY_FAST_STEPS, None):
            found = self._steady_within(prop, support, deadline, limit, lemmas)
            if found is not None:
                return found
        return None

    def _steady_within(
        self,
        prop: TemporalProperty,
        support: Support,
        deadline: Deadline,
        limit: int | None,
        lemmas: Sequence[str],
    ) -> VerificationResult | None:
        u = self._unrolling()
        u.empty = frozenset(lemmas)
        cons: list[Formula] = []
        for q in self._queues(support):
            if q in u.empty:
                continue
            length = u.length(q, 0)
            d = u.drain(q, 0)
            if d is None:
                cons.append(length == 0)
                continue
            excess = u.in_items(q, 0) - d * z.num(Fraction(self.settings.step_ms, 1000))
            cap = z.num(self.params[f"{q}.capacity"])
            cons.append(length == z.ite(excess > 0, cap, z.num(0)))
            if limit is not None:
                cons.append(z.implies(excess > 0, excess * limit >= cap))
        bad = z.or_([z.not_(self._defined_at(u, prop, 0)), z.not_(self._holds_at(u, prop, 0))])
        solver = z.make_solver(self.settings, deadline)
        solver.add(*cons)
        solver.add(*u.environment([0]))
        solver.add(bad)
        outcome = z.check(solver)
        if outcome.status is not CheckStatus.SAT:
            return None
        env = reference.complete_env(self._env_steps(u, outcome.model, 0)[0], self.witness)
        step_ms = Fraction(self.settings.step_ms)
        fill = reference.constant_fill(self.st, self.params, env, step_ms)
        full = reference.saturation_step(self.params, fill)
        # the first violation, searched step by step over a short run; past it,
        # the run is compressed to the step where every queue is full (the state
        # the solver found violating), computed in closed form
        at = reference.first_failing_step(
            self.st, self.params, env, prop.predicate, step_ms, min(full, MAX_STEADY_STEPS)
        )
        if at is None:
            at = full
        cex, ok = self.counterexample(prop, support, [env], at, constant=True, show_step=at)
        if not ok:
            return None
        return self.violated(prop, cex, ok)

    def _houdini(
        self, support: Support, deadline: Deadline, known: Sequence[str] = ()
    ) -> list[str] | None:
        """The queues besides ``known`` (proved empty already) whose emptiness
        is an inductive invariant (Houdini: drop candidates until the rest are
        preserved by one step, in states where the ``known`` queues are empty)."""
        lemmas = [q for q in self._queues(support) if q not in known]
        while lemmas:
            u = self._unroll(support, 1, free_start=True, empty=known)
            solver = z.make_solver(self.settings, deadline)
            # assume the lemmas at step 0 only, and ask whether one breaks at step 1
            solver.add(*u.state_bounds(0))
            solver.add(*u.transition(0))
            solver.add(*(u.length(q, 0) == 0 for q in lemmas))
            solver.add(*u.environment([0, 1]))
            solver.add(z.or_([u.length(q, 1) != 0 for q in lemmas]))
            outcome = z.check(solver)
            if outcome.status is CheckStatus.UNSAT:
                return lemmas
            if outcome.status is not CheckStatus.SAT:
                return None
            model = outcome.model
            lemmas = [q for q in lemmas if z.value_of(model, u.length(q, 1)) == 0]
        return lemmas

    def _k_induction(
        self,
        prop: TemporalProperty,
        support: Support,
        deadline: Deadline,
        base: int,
        lemmas: list[str],
    ) -> int | None:
        for k in range(1, min(MAX_INDUCTION_DEPTH, base + 1) + 1):
            if deadline.expired():
                return None
            u = self._unroll(support, k, free_start=True, empty=lemmas)
            solver = z.make_solver(self.settings, deadline)
            solver.add(*self._frame(u, k, lemmas))
            for t in range(k):
                solver.add(self._defined_at(u, prop, t), self._holds_at(u, prop, t))
            solver.add(
                z.or_([z.not_(self._defined_at(u, prop, k)), z.not_(self._holds_at(u, prop, k))])
            )
            outcome = z.check(solver, want_model=False)
            if outcome.status is CheckStatus.UNSAT:
                return k
            if outcome.status is not CheckStatus.SAT:
                return None
        return None


def _semantics(op: TemporalOperator, ps: list[Formula], qs: list[Formula]) -> Formula:
    """Bounded-LTL truth at step 0 over steps 0..len-1 (SINCE: at the last step)."""
    if op is TemporalOperator.ALWAYS:
        return z.and_(ps)
    if op in (TemporalOperator.EVENTUALLY, TemporalOperator.WITHIN):
        return z.or_(ps)
    if op is TemporalOperator.UNTIL:
        return z.or_(z.and_([qs[j], *ps[:j]]) for j in range(len(ps)))
    return z.or_(z.and_([qs[j], *ps[j + 1 :]]) for j in range(len(ps)))


def _trace_filter(
    support: Support, prop: TemporalProperty, params: Mapping[str, Fraction]
) -> Callable[[str], bool]:
    """Which values a counterexample trace shows: derived values of the cone's
    components and every name the property mentions (not parameters, which are
    listed once, nor the environment, which has its own field)."""
    mentioned = pred_names(prop)

    def keep(key: str) -> bool:
        if key in mentioned and not key.startswith("env."):
            return True
        if "@" in key or key.startswith("env.") or key in params:
            return False
        return key.split(".", 1)[0] in support.components

    return keep


def _shown_values(
    values: Mapping[str, Fraction], keep: Callable[[str], bool]
) -> dict[str, Fraction]:
    """One step of a counterexample trace: the kept values, where a quantity
    with no finite bound at the step is shown by its marker only (its
    placeholder value means nothing)."""
    unbounded = set(reference.unbounded_names(values))
    out = {k: v for k, v in values.items() if keep(k) and k not in unbounded}
    for name in unbounded:
        if keep(name):
            out[name + reference.UNBOUNDED] = values[name + reference.UNBOUNDED]
    return out


def _shown_env(support: Support, env_steps: Sequence[Mapping[str, Fraction]]) -> set[str]:
    """The environment names a person reading the counterexample needs: the
    ones the solver chose (the cone's and those its assumptions tie to them)."""
    out: set[str] = set(support.env)
    for e in env_steps:
        out |= e.keys()
    return out


def _frozen(values: Mapping[str, Fraction]) -> Mapping[str, Fraction]:
    return MappingProxyType(dict(sorted(values.items())))
