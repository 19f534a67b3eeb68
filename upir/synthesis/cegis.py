"""The CEGIS loop: exists holes . forall allowed environments . spec holds.

Each round proposes the hole values that are best for the objectives among those
consistent with every counterexample so far (:mod:`upir.synthesis.smt`), then
asks the verifier about them for *all* environments. A VIOLATED verdict's
counterexample is a run the proposal must survive from then on; UNKNOWN,
TIMEOUT and ERROR verdicts only exclude that one candidate (they are never
counted as proved). The loop ends when

* the verifier proves every property (then a *fresh* full verifier, with no
  cache and none of the loop's reuse, checks the answer again: SUCCESS),
* no values are left (UNSAT, with the conflicting constraints),
* ``max_iterations`` rounds have run (PARTIAL, with the best candidate), or
* ``timeout_ms`` has passed (TIMEOUT).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction

from upir.core.temporal import TemporalProperty
from upir.core.upir import UPIR
from upir.errors import InvalidSpecError, SolverError
from upir.settings import SolverSettings
from upir.synthesis import steady
from upir.synthesis.encoding import Encoder, objective_values
from upir.synthesis.explain import Label, explain_core, values_text
from upir.synthesis.results import IterationRecord, SynthesisResult, SynthesisStatus, frozen
from upir.synthesis.sketch import Sketch
from upir.synthesis.smt import Proposal, Proposer, ProposeStatus
from upir.verification import (
    Counterexample,
    ProofCache,
    Verdict,
    VerificationReport,
    VerificationResult,
    Verifier,
)
from upir.verification import z3util as z
from upir.verification.z3util import Deadline, Formula

log = logging.getLogger("upir.synthesis")

OBJECTIVES = ("cost", "latency_bound_ms", "change")
"""The objectives, minimized in this order (lexicographically) by default:
``system.cost``; the worst-case latency bound the parameters allow; the
normalized distance from the current values
(:meth:`upir.synthesis.encoding.Encoder.objectives`)."""

OBJECTIVE_ORDERS: Mapping[str, tuple[str, ...]] = {
    "cost": OBJECTIVES,
    "change": ("change", "cost", "latency_bound_ms"),
}
"""The orders a caller may choose, by their first objective: ``cost`` (the
cheapest, then the lowest latency bound, then the least change) or ``change``
(the least change from the current values, which is what a user fixing a
failing spec expects; then the cheapest, then the lowest latency bound)."""

INTERNAL_CACHE_SIZE = 4096
"""Proof-cache entries of the verifier the loop makes when none is given."""


class Synthesizer:
    """Finds parameter values the verifier proves, or explains why none exist.

    Args:
        settings: solver limits and model step/horizon (the verifier's too).
        verifier: the verifier the loop asks about candidates (its fast path,
            :meth:`Verifier.check_params`); a new one with a proof cache when
            ``None``. The returned answer is always re-checked by a fresh one.
        max_iterations: CEGIS rounds before giving up with PARTIAL.
        timeout_ms: wall-clock budget of one :meth:`synthesize` call, ms
            (``None``: no limit beyond ``max_iterations``). Solver calls are cut
            at the deadline; a verifier call already running may overrun it by
            at most ``settings.timeout_ms`` per property.
        share_counterexamples: also require, on each counterexample run, the
            stateless properties whose environment it fully binds (fewer rounds,
            larger propose problems).
        objective: which objective comes first, a key of
            :data:`OBJECTIVE_ORDERS` (``"cost"`` or ``"change"``).
    """

    def __init__(
        self,
        settings: SolverSettings,
        verifier: Verifier | None = None,
        *,
        max_iterations: int = 100,
        timeout_ms: int | None = None,
        share_counterexamples: bool = True,
        objective: str = "cost",
    ) -> None:
        if objective not in OBJECTIVE_ORDERS:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVE_ORDERS)}")
        if max_iterations < 1:
            raise ValueError("max_iterations must be at least 1")
        if timeout_ms is not None and timeout_ms < 1:
            raise ValueError("timeout_ms must be at least 1")
        self.settings = settings
        self.verifier = (
            verifier
            if verifier is not None
            else Verifier(settings, ProofCache(INTERNAL_CACHE_SIZE))
        )
        self.max_iterations = max_iterations
        self.timeout_ms = timeout_ms
        self.share_counterexamples = share_counterexamples
        self.objective = objective

    def synthesize(self, upir: UPIR) -> SynthesisResult:
        """Synthesize ``upir``'s tunable parameters (``spec.parameters``)."""
        start = time.perf_counter()
        try:
            sketch = Sketch.from_upir(upir)
        except InvalidSpecError as err:
            return SynthesisResult(
                SynthesisStatus.INVALID_SPEC, frozen({}), 0, _ms(start), str(err)
            )
        run = _Run(self, sketch, start)
        try:
            return run.loop()
        except SolverError as err:
            log.warning("synthesis of %r stopped: %s", upir.name, err)
            return run.finish(SynthesisStatus.TIMEOUT, f"the solver failed: {err}")
        except InvalidSpecError as err:  # the verifier refused a candidate's values
            return run.finish(SynthesisStatus.INVALID_SPEC, str(err))


class _Run:
    """The state of one synthesis."""

    def __init__(self, owner: Synthesizer, sketch: Sketch, start: float) -> None:
        self.owner = owner
        self.sketch = sketch
        self.upir = sketch.upir
        self.settings = owner.settings
        self.start = start
        self.deadline = Deadline(owner.timeout_ms) if owner.timeout_ms is not None else None
        self.encoder = Encoder(sketch, owner.settings)
        definitions, objectives = self.encoder.objectives()
        order = OBJECTIVE_ORDERS[owner.objective]
        objectives = sorted(objectives, key=lambda o: order.index(o[0]))
        self.proposer = Proposer(owner.settings, self.encoder.terms, objectives, definitions)
        self.labels: dict[str, Label] = {}
        self.props: tuple[TemporalProperty, ...] = self.upir.specification.all_properties()
        self.history: list[IterationRecord] = []
        self.seen: set[tuple[str, tuple[tuple[tuple[str, Fraction], ...], ...]]] = set()
        self.n_cex = 0
        self.best: tuple[int, Mapping[str, Fraction], tuple[str, ...]] | None = None
        self.last_objective: Mapping[str, Fraction] = {}
        self.optimal = True
        self.precheck = False
        """Set once the verifier could not decide a queue property that the
        steady-state refutation then settled: later candidates are checked that
        way first, and only go to the verifier when it finds nothing."""
        for hole in sketch.holes:
            self._add(
                f"domain:{hole.name}", self.encoder.domain(hole), Label("domain", hole=hole.name)
            )

    # -- the loop -----------------------------------------------------------
    def loop(self) -> SynthesisResult:
        for index in range(1, self.owner.max_iterations + 1):
            if self.deadline is not None and self.deadline.expired():
                return self.finish(SynthesisStatus.TIMEOUT, self._out_of_time())
            t0 = time.perf_counter()
            proposal = self.proposer.propose(self.deadline)
            propose_ms = _ms(t0)
            if proposal.status is not ProposeStatus.FOUND:
                self.history.append(IterationRecord(index, frozen({}), propose_ms, 0.0, (), 0))
                return self._no_proposal(proposal)
            self.optimal = self.optimal and proposal.optimal
            # grid values are exact; a continuous hole's value may be an algebraic
            # number Z3 approximated, which must still lie in its domain
            candidate = {h.name: h.nearest(proposal.values[h.name]) for h in self.sketch.holes}
            self.last_objective = objective_values(self.sketch, self.encoder.st, candidate)
            t1 = time.perf_counter()
            if self.precheck:
                refuted, added = self._steady_refutations(candidate)
                if refuted:
                    self._record(
                        index, candidate, propose_ms, _ms(t1), refuted, refuted, added, (), True
                    )
                    continue
            report = self.owner.verifier.check_params(self.upir, candidate)
            failures = report.failures()
            fresh: VerificationReport | None = None
            if not failures:
                fresh = Verifier(self.settings).verify(self.upir.with_params(candidate), quiet=True)
                failures = fresh.failures()
                if failures:
                    log.warning(
                        "fast path proved %s but the fresh verifier did not: %s",
                        values_text(candidate),
                        ", ".join(r.property.name for r in failures),
                    )
                    report = fresh
            verify_ms = _ms(t1)
            if fresh is not None and not failures:
                self.history.append(
                    IterationRecord(index, frozen(candidate), propose_ms, verify_ms, (), 0)
                )
                return self._success(candidate, fresh)
            invalid = _assumption_problem(report, failures)
            if invalid is not None:
                self.history.append(
                    IterationRecord(
                        index, frozen(candidate), propose_ms, verify_ms, _names(failures), 0
                    )
                )
                return self.finish(SynthesisStatus.INVALID_SPEC, invalid)
            t2 = time.perf_counter()
            added, inconclusive = self._learn(index, candidate, failures)
            learn_ms = _ms(t2)
            self._record(
                index,
                candidate,
                propose_ms,
                verify_ms,
                _names(failures),
                _described(failures),
                added,
                inconclusive,
                learn_ms=learn_ms,
            )
        return self.finish(SynthesisStatus.PARTIAL, self._out_of_rounds())

    def _record(
        self,
        index: int,
        candidate: Mapping[str, Fraction],
        propose_ms: float,
        verify_ms: float,
        failed: Sequence[str],
        described: Sequence[str],
        added: int,
        inconclusive: Sequence[str],
        skipped: bool = False,
        *,
        learn_ms: float = 0.0,
    ) -> None:
        """One round in the history; the best candidate so far has the fewest
        properties not proved (``described`` says how each failed)."""
        self.history.append(
            IterationRecord(
                index,
                frozen(candidate),
                propose_ms,
                verify_ms,
                tuple(failed),
                added,
                tuple(inconclusive),
                skipped,
                learn_ms,
            )
        )
        if self.best is None or len(failed) < self.best[0]:
            self.best = (len(failed), dict(candidate), tuple(described))

    def _steady_refutations(self, candidate: Mapping[str, Fraction]) -> tuple[list[str], int]:
        """Refute ``candidate`` in the steady state where the verifier would
        likely run out of time (see :mod:`upir.synthesis.steady`): the
        properties refuted and the constraints added."""
        refuted: list[str] = []
        added = 0
        for prop in self.props:
            if not steady.applies(self.encoder, prop):
                continue
            env = steady.refute(self.encoder, prop, candidate)
            if env is None:
                continue
            n, excluded = self._add_runs(prop, self._constant_run(env), candidate)
            added += n
            if excluded:
                refuted.append(prop.name)
        return refuted, added

    def _constant_run(self, env: Mapping[str, Fraction]) -> Counterexample:
        return Counterexample(
            env=(frozen(env),),
            trace=(),
            violated_at=None,
            params=frozen({}),
            step_ms=self.settings.step_ms,
            horizon=self.settings.bmc_steps,
            constant=True,
        )

    def _learn(
        self, index: int, candidate: Mapping[str, Fraction], failures: Sequence[VerificationResult]
    ) -> tuple[int, list[str]]:
        """Add the counterexamples of ``failures``; exclude the candidate itself
        when a failure has no usable counterexample, or when no constraint
        added refutes it (so the same candidate never comes back)."""
        added = 0
        inconclusive: list[str] = []
        excluded = False
        for r in failures:
            cex = r.counterexample
            if steady.applies(self.encoder, r.property):
                # The most overloaded steady state refutes this candidate and its
                # neighbours at once; it also settles what the verifier could not
                # decide (a slowly filling queue), after which every candidate is
                # checked this way before the verifier sees it.
                env = steady.refute(self.encoder, r.property, candidate)
                if env is not None:
                    n, refuted = self._add_runs(r.property, self._constant_run(env), candidate)
                    added += n
                    excluded = excluded or refuted
                    if r.status is not Verdict.VIOLATED:
                        self.precheck = True
                    if refuted:
                        continue
            if r.status is not Verdict.VIOLATED or cex is None or not self.encoder.usable(cex):
                inconclusive.append(f"{r.property.name}: {r.status.value}")
                continue
            n, refuted = self._add_runs(r.property, cex, candidate)
            added += n
            excluded = excluded or refuted
            if self.owner.share_counterexamples and cex.constant:
                for other in self.props:
                    if other.name != r.property.name and not self.encoder.support(other).stateful:
                        if self.encoder.covers(other, cex):
                            added += self._add_runs(other, cex, None)[0]
        if inconclusive or not excluded:
            reason = "; ".join(inconclusive) if inconclusive else "counterexample not encodable"
            self._add(
                f"blocked:{index}",
                z.not_(self.encoder.equals(candidate)),
                Label("blocked", candidate=dict(candidate), reason=reason),
            )
        return added, inconclusive

    def _add_runs(
        self, prop: TemporalProperty, cex: Counterexample, candidate: Mapping[str, Fraction] | None
    ) -> tuple[int, bool]:
        """Require ``prop`` on the run of ``cex``. With a ``candidate`` (``cex``
        refutes it), add the strongest instance that refutes the candidate (all
        of them when none does); without one, the first. Returns how many
        constraints were added and whether one refutes the candidate."""
        key = (prop.name, tuple(tuple(sorted(e.items())) for e in cex.env))
        if key in self.seen:
            if candidate is not None:
                log.debug("verifier repeated a counterexample for %r", prop.name)
            return 0, False
        self.seen.add(key)
        instances = self.encoder.instances(prop, cex, own=candidate is not None)
        if candidate is None:
            instances = instances[:1]
        chosen = instances
        refuted = False
        if candidate is not None:
            for inst in instances:
                if self.proposer.excludes(inst.formula, candidate):
                    chosen, refuted = [inst], True
                    break
        env_names = self.encoder.support(prop).env
        for inst in chosen:
            self.n_cex += 1
            self._add(
                f"run:{self.n_cex}:{prop.name}",
                inst.formula,
                Label("property", prop=prop.name, env=inst.env, env_names=env_names, run=inst.kind),
            )
        return len(chosen), refuted

    def _add(self, label: str, formula: Formula, meaning: Label) -> None:
        self.proposer.add(label, formula)
        self.labels[label] = meaning

    # -- endings ------------------------------------------------------------
    def _success(
        self, candidate: Mapping[str, Fraction], fresh: VerificationReport
    ) -> SynthesisResult:
        n = len(fresh.results)
        text = (
            f"all {n} properties PROVED for {values_text(candidate) or 'the current parameters'} "
            f"after {len(self.history)} iteration(s), {self.n_cex} counterexample(s)"
        )
        if not self.optimal:
            text += " (the optimizer gave up on a round; the answer may not be optimal)"
        return SynthesisResult(
            SynthesisStatus.SUCCESS,
            frozen(candidate),
            len(self.history),
            _ms(self.start),
            text,
            report=fresh,
            history=tuple(self.history),
            counterexamples=self.n_cex,
            objective=frozen(self.last_objective),
            optimal=self.optimal,
        )

    def _no_proposal(self, proposal: Proposal) -> SynthesisResult:
        if proposal.status is ProposeStatus.UNSAT:
            text = explain_core(proposal.core, self.labels, self.sketch)
            if any(self.labels[c].kind == "blocked" for c in proposal.core if c in self.labels):
                # candidates excluded only for being undecided are no proof of absence
                return self.finish(
                    SynthesisStatus.PARTIAL,
                    "no candidate left that the verifier can decide: " + text,
                )
            return self.finish(SynthesisStatus.UNSAT, text)
        if proposal.status is ProposeStatus.TIMEOUT:
            return self.finish(SynthesisStatus.TIMEOUT, self._out_of_time(proposal.reason))
        return self.finish(
            SynthesisStatus.PARTIAL,
            f"the solver could not decide which values remain ({proposal.reason})"
            + self._best_text(),
        )

    def _out_of_time(self, reason: str = "") -> str:
        limit = f" (limit {self.owner.timeout_ms} ms)" if self.owner.timeout_ms else ""
        why = f"; {reason}" if reason else ""
        return f"out of time after {len(self.history)} iteration(s){limit}{why}" + self._best_text()

    def _out_of_rounds(self) -> str:
        return f"no proved parameters after {len(self.history)} iteration(s)" + self._best_text()

    def _best_text(self) -> str:
        if self.best is None:
            return ""
        _, values, violated = self.best
        return f"; best candidate {values_text(values)} fails: {', '.join(violated)}"

    def finish(self, status: SynthesisStatus, explanation: str) -> SynthesisResult:
        best = self.best
        return SynthesisResult(
            status,
            frozen({}),
            len(self.history),
            _ms(self.start),
            explanation,
            best_candidate=frozen(best[1] if best else {}),
            violated=best[2] if best else (),
            history=tuple(self.history),
            counterexamples=self.n_cex,
            objective=frozen(self.last_objective),
            optimal=self.optimal,
        )


def _assumption_problem(
    report: VerificationReport, failures: Sequence[VerificationResult]
) -> str | None:
    """The verifier's warning when the assumptions allow no environment at all
    (every property is then ERROR): a spec problem, not a parameter problem."""
    if report.warnings and failures and all(r.status is Verdict.ERROR for r in failures):
        if len(failures) == len(report.results):
            return "; ".join(report.warnings)
    return None


def _names(results: Sequence[VerificationResult]) -> tuple[str, ...]:
    return tuple(r.property.name for r in results)


def _described(results: Sequence[VerificationResult]) -> tuple[str, ...]:
    return tuple(
        r.property.name if r.status is Verdict.VIOLATED else f"{r.property.name} ({r.status.value})"
        for r in results
    )


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
