"""The propose step's solver work: the one module of ``upir.synthesis`` that
imports ``z3`` (for tracking literals and objective handles). Solvers and
optimizers are created through :mod:`upir.verification.z3util`, so the time and
memory limits and the per-thread context apply here too.

The proposer keeps every constraint under a label. Proposing asks an
optimizer for the lexicographic optimum of the objectives over all of them; when
there is none, a plain solver with one tracking literal per label gives an
unsat core (minimized by Z3), which names the labels that conflict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

import z3

from upir.errors import SolverError
from upir.settings import SolverSettings
from upir.verification import z3util as z
from upir.verification.z3util import CheckStatus, Deadline, Formula, Term

log = logging.getLogger("upir.synthesis")


class ProposeStatus(str, Enum):
    FOUND = "found"
    UNSAT = "unsat"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Proposal:
    """The answer of one propose step. ``values``: hole -> exact value (FOUND).
    ``objective``: the objectives' values at it. ``optimal``: found by the
    optimizer (False: a plain solver's point, after the optimizer gave up).
    ``core``: the conflicting labels (UNSAT; every label when no core could be
    computed). ``reason``: Z3's reason for TIMEOUT/UNKNOWN."""

    status: ProposeStatus
    values: Mapping[str, Fraction] = field(default_factory=dict)
    objective: Mapping[str, Fraction] = field(default_factory=dict)
    optimal: bool = True
    core: tuple[str, ...] = ()
    core_minimal: bool = True
    reason: str = ""


class Proposer:
    """Labelled constraints over the holes, and the objectives to minimize in
    order (lexicographically). ``definitions`` bound the objectives' auxiliary
    variables; they constrain nothing else, so they stay out of unsat cores.
    ``level_timeout_ms``: longest optimization of one objective level, ms."""

    def __init__(
        self,
        settings: SolverSettings,
        holes: Mapping[str, Term],
        objectives: Sequence[tuple[str, Term]],
        definitions: Sequence[Formula] = (),
        *,
        level_timeout_ms: int = 2000,
    ) -> None:
        self.settings = settings
        self.level_timeout_ms = level_timeout_ms
        self.holes = dict(holes)
        self.objectives = list(objectives)
        self.definitions = list(definitions)
        self._constraints: dict[str, Formula] = {}

    def add(self, label: str, formula: Formula) -> None:
        if label in self._constraints:
            raise ValueError(f"constraint label {label!r} used twice")
        self._constraints[label] = formula

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._constraints)

    def __len__(self) -> int:
        return len(self._constraints)

    # -- propose ------------------------------------------------------------
    def propose(self, deadline: Deadline | None = None) -> Proposal:
        """The lexicographic optimum consistent with every constraint, or why
        there is none. Raises :class:`SolverError` when Z3 fails.

        The objectives are optimized one level at a time, each level bounded by
        the optima above it, each under ``level_timeout_ms``: optimizing over
        nonlinear constraints can take far longer than deciding them, so a
        level that runs out keeps the model of the level before (feasible and
        optimal for the levels above; ``optimal=False``). When even the first
        level runs out, a plain solver decides feasibility under the full
        solver timeout."""
        opt = z.make_optimize(self.settings, deadline)
        for formula in self.definitions:
            opt.add(formula)
        for formula in self._constraints.values():
            opt.add(formula)
        best: z3.ModelRef | None = None
        optimal = True
        for level, (_, term) in enumerate(self.objectives):
            opt.set("timeout", self._level_timeout(deadline))
            opt.push()
            opt.minimize(term)
            outcome = z.check(opt)
            opt.pop()
            if outcome.status is CheckStatus.SAT and outcome.model is not None:
                best = outcome.model
                opt.add(term <= z.value_of(best, term))
                continue
            if outcome.status is CheckStatus.UNSAT and level == 0:
                return self._unsat(deadline)
            log.debug("objective level %d gave no optimum (%s)", level, outcome.reason)
            optimal = False
            break
        if best is not None:
            return self._found(best, optimal=optimal)
        return self._feasible(deadline)

    def _level_timeout(self, deadline: Deadline | None) -> int:
        limit = min(self.settings.timeout_ms, self.level_timeout_ms)
        if deadline is not None:
            limit = min(limit, deadline.remaining_ms())
        return max(1, limit)

    def _feasible(self, deadline: Deadline | None) -> Proposal:
        """Any point consistent with the constraints (no objective)."""
        solver = z.make_solver(self.settings, deadline)
        for formula in self._constraints.values():
            solver.add(formula)
        plain = z.check(solver)
        if plain.status is CheckStatus.SAT and plain.model is not None:
            return self._found(plain.model, optimal=False)
        if plain.status is CheckStatus.UNSAT:
            return self._unsat(deadline)
        status = (
            ProposeStatus.TIMEOUT if plain.status is CheckStatus.TIMEOUT else ProposeStatus.UNKNOWN
        )
        return Proposal(status, reason=plain.reason)

    def excludes(self, formula: Formula, values: Mapping[str, Fraction]) -> bool:
        """Whether ``formula`` is false when the holes take ``values`` (a quick
        check: with every hole fixed, only the run's state is left to solve).
        False when Z3 cannot tell."""
        solver = z.make_solver(self.settings)
        solver.add(formula)
        solver.add(*(self.holes[k] == z.num(v) for k, v in values.items()))
        return z.check(solver, want_model=False).status is CheckStatus.UNSAT

    def _found(self, model: z3.ModelRef, *, optimal: bool) -> Proposal:
        values = {name: z.value_of(model, term) for name, term in self.holes.items()}
        objective = {name: z.value_of(model, term) for name, term in self.objectives}
        return Proposal(ProposeStatus.FOUND, values, objective, optimal)

    def _unsat(self, deadline: Deadline | None) -> Proposal:
        """An unsat core over the labels (Z3 minimizes it)."""
        labels = list(self._constraints)
        ctx = z.context()
        solver = z.make_solver(self.settings, deadline)
        try:
            solver.set("core.minimize", True)
        except z3.Z3Exception as err:
            raise SolverError(f"cannot configure the core solver: {err}") from None
        literals: dict[str, str] = {}
        tracks: list[Formula] = []
        for i, label in enumerate(labels):
            lit = z3.Bool(f"track!{i}", ctx)
            literals[str(lit)] = label
            tracks.append(lit)
            solver.add(z3.Implies(lit, self._constraints[label]))
        outcome = z.check(solver, tracks, want_model=False)
        if outcome.status is not CheckStatus.UNSAT:
            # the optimizer said unsat; without a core every label is implicated
            log.debug("core solver answered %s; reporting every constraint", outcome.status)
            return Proposal(ProposeStatus.UNSAT, core=tuple(labels), core_minimal=False)
        try:
            core = [literals[str(lit)] for lit in solver.unsat_core()]
        except z3.Z3Exception as err:
            raise SolverError(f"cannot read the unsat core: {err}") from None
        order = {label: i for i, label in enumerate(labels)}
        return Proposal(ProposeStatus.UNSAT, core=tuple(sorted(core, key=order.__getitem__)))
