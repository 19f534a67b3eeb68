"""The verifier: one entry point for the CLI, the operator, the synthesizer and
the PPO guardrail.

For each property: compute its cone of influence, look the verdict up in the
proof cache, else try the compositional proof (cheap, sound, may only prove),
else check it monolithically with Z3 (real verdict and counterexample). Only
definitive verdicts are cached. Every VIOLATED verdict carries a counterexample
that :func:`upir.verification.reference.replay` re-checks without Z3.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from upir.core.architecture import Architecture, Component
from upir.core.catalog import COMPONENT_TYPES
from upir.core.numbers import Number, to_fraction
from upir.core.specification import FormalSpecification
from upir.core.temporal import TemporalProperty
from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError, SolverError
from upir.expr.ast import names
from upir.settings import SolverSettings
from upir.verification import contracts, falsify
from upir.verification import z3util as z
from upir.verification.cache import (
    ProofCache,
    SpecInfo,
    component_digest,
    key_from_digests,
    property_text,
)
from upir.verification.contracts import ServiceContract
from upir.verification.encoder import Unrolling
from upir.verification.engine import Checker, horizon_for
from upir.verification.intervals import Interval
from upir.verification.memo import LRU, CacheStats, IdentityMemo
from upir.verification.results import Verdict, VerificationReport, VerificationResult
from upir.verification.structure import Structure, Support, shape_key
from upir.verification.z3util import CheckStatus, Deadline

log = logging.getLogger("upir.verification")

_CONTRADICTORY = "the assumptions allow no environment"
_UNDECIDED_TIMEOUT = "ran out of time deciding whether the assumptions allow any environment"
_UNDECIDED_UNKNOWN = "could not decide whether the assumptions allow any environment"

_VERBS = {
    Verdict.PROVED: "Proved",
    Verdict.VIOLATED: "Violated",
    Verdict.UNKNOWN: "Could not decide",
    Verdict.TIMEOUT: "Timed out on",
    Verdict.ERROR: "Error verifying",
}


@dataclass(frozen=True, slots=True)
class VerifierStats:
    """Counters since the verifier was made (``cache`` is the proof cache's)."""

    compositional: int
    monolithic: int
    reused: int
    cache: CacheStats | None
    contracts: CacheStats


class Verifier:
    """Verifies UPIRs against their specifications.

    Args:
        settings: solver limits and the model's step and horizon.
        cache: a shared proof cache (``None``: no caching of verdicts).
        compositional: try the compositional proof before the monolithic check.
        contract_cache_size: entries of the per-component contract cache.

    Thread-safe: Z3 work happens in the calling thread's own context and the
    caches are locked, so one verifier may serve several threads.
    """

    def __init__(
        self,
        settings: SolverSettings,
        cache: ProofCache | None = None,
        *,
        compositional: bool = True,
        contract_cache_size: int = 65536,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.compositional = compositional
        self._structures: LRU[tuple[object, ...], Structure] = LRU(64)
        self._comp_params: IdentityMemo[
            Component, tuple[dict[str, Fraction], tuple[tuple[str, Fraction], ...]]
        ] = IdentityMemo(65536)
        self._shapes: IdentityMemo[Architecture, tuple[object, ...]] = IdentityMemo(1024)
        self._digests: IdentityMemo[Component, tuple[Structure, str]] = IdentityMemo(65536)
        self._all_props: IdentityMemo[FormalSpecification, tuple[TemporalProperty, ...]] = (
            IdentityMemo(256)
        )
        self._contracts: LRU[tuple[object, ...], ServiceContract] = LRU(contract_cache_size)
        self._boxes: LRU[tuple[object, ...], dict[str, Interval]] = LRU(256)
        self._witnesses: LRU[tuple[object, ...], dict[str, Fraction]] = LRU(256)
        self._ranges_by_upir: IdentityMemo[UPIR, tuple[contracts.Ranges | None]] = IdentityMemo(64)
        self._compositions: LRU[
            tuple[object, ...], tuple[dict[str, Component], contracts.Composition]
        ] = LRU(64)
        self._assumptions_ok: LRU[tuple[object, ...], str] = LRU(1024)
        self._assumption_keys: LRU[tuple[object, ...], tuple[object, ...]] = LRU(256)
        self._specs: IdentityMemo[FormalSpecification, SpecInfo] = IdentityMemo(256)
        self._lock = threading.Lock()
        self._next_token = 0
        self._counts = {"compositional": 0, "monolithic": 0, "reused": 0}

    # -- public API --------------------------------------------------------------
    def verify(self, upir: UPIR, *, quiet: bool = False) -> VerificationReport:
        """Verdicts for every invariant, property and constraint of ``upir``
        (``quiet``: verdicts logged at DEBUG, for callers that print them)."""
        return self.verify_properties(upir, self._properties(upir), quiet=quiet)

    def verify_properties(
        self, upir: UPIR, props: Sequence[TemporalProperty], *, quiet: bool = False
    ) -> VerificationReport:
        """Verdicts for ``props`` of ``upir``, in order. ``quiet`` logs each
        verdict at DEBUG instead of INFO (candidate checks run by the thousand)."""
        start = time.perf_counter()
        problem = self._assumption_problem(upir)
        warnings = [problem] if problem else []
        results = [self.verify_property(upir, p, quiet=quiet) for p in props]
        return VerificationReport(tuple(results), _ms(start), tuple(warnings))

    def verify_property(
        self, upir: UPIR, prop: TemporalProperty, *, quiet: bool = False
    ) -> VerificationResult:
        """The verdict for one property of ``upir`` (its current parameters)."""
        start = time.perf_counter()
        try:
            result = self._verify_property(upir, prop, start)
        except SolverError as err:
            result = VerificationResult(prop, Verdict.ERROR, time_ms=_ms(start), message=str(err))
        self._log(result, quiet)
        return result

    def check_params(
        self, upir: UPIR, values: Mapping[str, Fraction | Number]
    ) -> VerificationReport:
        """Verify ``upir`` with some parameters replaced: the fast path for the
        synthesizer and the guardrail (structure, cones, contracts and verdicts
        are all reused across candidates). Raises :class:`InvalidSpecError` when a
        value names no parameter, breaks the parameter's physical lower bound or
        integrality, or lies outside its declared ``spec.parameters`` domain."""
        self._check_values(upir, values)
        candidate = upir.with_params(values)
        return self.verify_properties(candidate, self._properties(candidate), quiet=True)

    def verify_incremental(
        self, old_upir: UPIR, new_upir: UPIR, old_report: VerificationReport
    ) -> VerificationReport:
        """Re-check only the properties whose cone of influence contains a
        component whose parameters changed; reuse the others' verdicts from
        ``old_report`` (marked ``cached``). Anything else that changed (the
        graph, the specification) means a full re-verification."""
        start = time.perf_counter()
        if self._shape(old_upir) != self._shape(new_upir) or (
            old_upir.specification is not new_upir.specification
            and old_upir.specification != new_upir.specification
        ):
            return self.verify(new_upir)
        old_comps = {c.name: c for c in old_upir.architecture.components}
        changed = {
            c.name
            for c in new_upir.architecture.components
            if c is not old_comps[c.name]
            and self._params_key(c) != self._params_key(old_comps[c.name])
        }
        previous = {r.property.name: r for r in old_report.results}
        st = self._structure(new_upir)
        results: list[VerificationResult] = []
        for prop in self._properties(new_upir):
            old = previous.get(prop.name)
            support, _ = self._support(st, prop)
            same = old is not None and (old.property is prop or old.property == prop)
            if old is not None and same and not (support.components & changed):
                with self._lock:
                    self._counts["reused"] += 1
                results.append(old.rebind(prop, cached=True, time_ms=0.0))
            else:
                results.append(self.verify_property(new_upir, prop))
        return VerificationReport(tuple(results), _ms(start), old_report.warnings)

    def cone_of_influence(self, upir: UPIR, prop: TemporalProperty) -> frozenset[str]:
        """Components and environment names that can change ``prop``'s verdict."""
        support, _ = self._support(self._structure(upir), prop)
        return support.components | support.env

    def stats(self) -> VerifierStats:
        with self._lock:
            counts = dict(self._counts)
        return VerifierStats(
            counts["compositional"],
            counts["monolithic"],
            counts["reused"],
            self.cache.stats() if self.cache is not None else None,
            self._contracts.stats(),
        )

    # -- internals ------------------------------------------------------------------
    def _shape(self, upir: UPIR) -> tuple[object, ...]:
        """:func:`shape_key` of the architecture, memoized by its identity."""
        arch = upir.architecture
        found = self._shapes.get(arch)
        if found is None:
            found = shape_key(arch)
            self._shapes.put(arch, found)
        return found

    def _structure(self, upir: UPIR) -> Structure:
        key = self._shape(upir)
        st = self._structures.get(key)
        if st is None:
            st = Structure(upir.architecture)
            self._structures.put(key, st)
        return st

    def _support(self, st: Structure, prop: TemporalProperty) -> tuple[Support, list[object]]:
        memo = st.memo
        found = memo.get(prop)
        if found is None:
            found = (st.expr_support([prop.predicate, prop.trigger]), property_text(prop))
            memo.put(prop, found)
        return found

    def _properties(self, upir: UPIR) -> tuple[TemporalProperty, ...]:
        """``all_properties()``, memoized per specification so the constraint
        properties it builds keep their identity (and their memoized cones)."""
        spec = upir.specification
        found = self._all_props.get(spec)
        if found is None:
            found = spec.all_properties()
            self._all_props.put(spec, found)
        return found

    def _verify_property(
        self, upir: UPIR, prop: TemporalProperty, start: float
    ) -> VerificationResult:
        st = self._structure(upir)
        support, text = self._support(st, prop)
        problem = self._assumption_problem(upir)
        if problem is not None:
            # undecided (time-out, unknown) is inconclusive; contradictory is an error
            verdict = Verdict.ERROR if problem.startswith(_CONTRADICTORY) else Verdict.TIMEOUT
            if problem.startswith(_UNDECIDED_UNKNOWN):
                verdict = Verdict.UNKNOWN
            return VerificationResult(prop, verdict, time_ms=_ms(start), message=problem)
        key = None
        if self.cache is not None:
            info = self._spec_info(upir)
            by_name = upir.architecture.component
            digests = {n: self._digest(st, by_name(n)) for n in support.components}
            key = key_from_digests(
                text,
                st,
                support,
                digests,
                info.group_texts(support.env),
                info.group_names(support.env),
                self.settings,
            )
            hit = self.cache.get(key)
            if hit is not None:
                return hit.rebind(prop, cached=True, time_ms=_ms(start))
        result = None
        if self.compositional:
            result = self._compositional(upir, st, prop, support)
        if result is None:
            deadline = Deadline(self.settings.timeout_ms)
            checker = Checker(
                upir,
                st,
                self.settings,
                self._witness(upir, st, prop) or {},
                self._known_empty(upir, st, support),
            )
            result = checker.check(prop, support, deadline)
            with self._lock:
                self._counts["monolithic"] += 1
        else:
            with self._lock:
                self._counts["compositional"] += 1
        result = result.rebind(prop, cached=False, time_ms=_ms(start))
        if self.cache is not None and key is not None:
            self.cache.put(key, result)
        return result

    def _compositional(
        self, upir: UPIR, st: Structure, prop: TemporalProperty, support: Support
    ) -> VerificationResult | None:
        """PROVED when the composed ranges prove the property; VIOLATED (with a
        checked counterexample) when they show its predicate false at every
        reachable step, so any allowed environment violates it; else None."""
        ranges = self._system_ranges(upir, st)
        if ranges is None:
            return None
        if contracts.proves(prop, ranges):
            proof = "inductive" if support.stateful else "stateless"
            return VerificationResult(
                prop,
                Verdict.PROVED,
                proof=proof,
                method="compositional",
                message="holds at every reachable step (composed component contracts)",
            )
        witness = self._witness(upir, st, prop)
        keep = support.env | set(self._spec_info(upir).group_names(support.env))
        horizon, _ = horizon_for(prop, self.settings)
        found: tuple[dict[str, Fraction], int] | None
        if contracts.refutes(prop, ranges):
            # false at every reachable step: any allowed environment violates it
            found = None if witness is None else ({k: witness[k] for k in keep & witness.keys()}, 0)
        else:
            corners = falsify.corner_environments(st, sorted(keep), ranges.boxes, witness or {})
            step_ms = Fraction(self.settings.step_ms)
            found = falsify.falsify(
                st, upir, prop, support, ranges.params, step_ms, corners, witness or {}, horizon
            )
        if found is None or witness is None:
            return None
        env, at = found
        checker = Checker(upir, st, self.settings, witness)
        cex, ok = checker.counterexample(
            prop, support, [env], max(horizon, at), constant=True, show_step=at
        )
        if not ok:
            return None
        return replace(checker.violated(prop, cex, ok), method="compositional")

    def _known_empty(self, upir: UPIR, st: Structure, support: Support) -> list[str]:
        """The queues of the cone that the composed contracts prove stay empty
        at every reachable step (their length's range is the point 0)."""
        if not self.compositional or not support.stateful:
            return []
        ranges = self._system_ranges(upir, st)
        if ranges is None:
            return []
        zero = Interval.point(0)
        return [
            q
            for q in st.of_type("queue")
            if q in support.components and ranges.derived.get(f"{q}.length") == zero
        ]

    def _witness(
        self, upir: UPIR, st: Structure, prop: TemporalProperty | None = None
    ) -> dict[str, Fraction] | None:
        """One allowed environment binding every name the model, the assumptions
        and the specification's properties (and ``prop``, which may be a
        candidate's own) use, from Z3, cached per specification and shape."""
        info = self._spec_info(upir)
        extra: frozenset[str] = frozenset()
        if prop is not None:
            extra = frozenset(n for n in falsify.pred_names(prop) if n.startswith("env."))
        key = (self._shape(upir), info.token)
        found = self._witnesses.get(key)
        if found is not None and extra <= found.keys():
            return found or None
        u = Unrolling(st, {}, self.settings.step_ms, upir.specification.assumptions)
        wanted = set(st.env_domains) | extra | (found.keys() if found else set())
        for a in upir.specification.assumptions:
            wanted |= names(a.expr)
        for p in self._properties(upir):
            for e in (p.predicate, p.trigger):
                if e is not None:
                    wanted |= {n for n in names(e) if n.startswith("env.")}
        for n in sorted(wanted):
            u.env(n, 0)
        solver = z.make_solver(self.settings)
        solver.add(*u.environment([0]))
        outcome = z.check(solver)
        witness: dict[str, Fraction] = {}
        if outcome.status is CheckStatus.SAT and outcome.model is not None:
            witness = {
                name: z.value_of(outcome.model, var) for (name, _), var in u.env_vars().items()
            }
        self._witnesses.put(key, witness)
        return witness or None

    def _system_ranges(self, upir: UPIR, st: Structure) -> contracts.Ranges | None:
        """Ranges of every quantity at every reachable step, composed from
        (cached) environment boxes, component contracts and per-component pieces;
        None when the environment cannot be bounded. Memoized per UPIR object (a
        ``verify`` asks once per property)."""
        found = self._ranges_by_upir.get(upir)
        if found is not None:
            return found[0]
        ranges = self._compose(upir, st)
        self._ranges_by_upir.put(upir, (ranges,))
        return ranges

    def _compose(self, upir: UPIR, st: Structure) -> contracts.Ranges | None:
        spec = upir.specification
        info = self._spec_info(upir)
        box_key = (self._shape(upir), info.token)
        boxes = self._boxes.get(box_key)
        if boxes is None:
            wanted = set(st.env_domains)
            for p in self._properties(upir):
                for e in (p.predicate, p.trigger):
                    if e is not None:
                        wanted |= {n for n in names(e) if n.startswith("env.")}
            boxes = contracts.env_boxes(st, spec.assumptions, wanted, self.settings) or {}
            self._boxes.put(box_key, boxes)
        if not boxes:
            return None
        by_name = {c.name: c for c in upir.architecture.components}

        def contract_of(name: str) -> ServiceContract:
            s_name, f_name = contracts.service_env(name)
            comp = by_name[name]
            key = (self._params_key(comp), boxes[s_name], boxes[f_name])
            contract = self._contracts.get(key)
            if contract is None:
                contract = contracts.service_contract(
                    self._params_of(comp), boxes[s_name], boxes[f_name]
                )
                self._contracts.put(key, contract)
            return contract

        comps = upir.architecture.components
        all_params = _ParamView(by_name, self._params_of)
        # Recompose incrementally from the last composition of this graph and spec:
        # only what the changed components reach is recomputed.
        last = self._compositions.get(box_key)
        previous, changed = None, None
        if last is not None:
            last_comps, previous = last
            changed = {
                c.name
                for c in comps
                if c is not last_comps[c.name]
                and self._params_key(c) != self._params_key(last_comps[c.name])
            }
        ranges, state = contracts.compose(
            st,
            all_params,
            boxes,
            contract_of,
            Fraction(self.settings.step_ms),
            previous=previous,
            changed=changed,
        )
        self._compositions.put(box_key, ({c.name: c for c in comps}, state))
        return ranges

    def _digest(self, st: Structure, comp: Component) -> str:
        """:func:`component_digest`, memoized by component identity (and checked
        against the structure it was computed for)."""
        found = self._digests.get(comp)
        if found is not None and found[0] is st:
            return found[1]
        digest = component_digest(st, comp.name, self._params_of(comp))
        self._digests.put(comp, (st, digest))
        return digest

    def _params_of(self, comp: Component) -> dict[str, Fraction]:
        """``comp.effective_params()``, memoized by identity: ``with_params`` keeps
        the unchanged components, so a candidate only converts what it changed."""
        return self._component_params(comp)[0]

    def _params_key(self, comp: Component) -> tuple[tuple[str, Fraction], ...]:
        """The parameters as a sorted tuple (a memo key), memoized likewise."""
        return self._component_params(comp)[1]

    def _component_params(
        self, comp: Component
    ) -> tuple[dict[str, Fraction], tuple[tuple[str, Fraction], ...]]:
        found = self._comp_params.get(comp)
        if found is None:
            exact = comp.effective_params()
            found = (exact, tuple(sorted(exact.items())))
            self._comp_params.put(comp, found)
        return found

    def _spec_info(self, upir: UPIR) -> SpecInfo:
        key = upir.specification
        info = self._specs.get(key)
        if info is None:
            with self._lock:
                self._next_token += 1
                token = self._next_token
            info = SpecInfo(key.assumptions, token)
            self._specs.put(key, info)
        return info

    def _assumption_problem(self, upir: UPIR) -> str | None:
        """A message when the assumptions allow no environment at all (every
        property would hold vacuously, which must not pass as a proof)."""
        assumptions = upir.specification.assumptions
        if not assumptions:
            return None
        st = self._structure(upir)
        key = self._assumption_key(upir, st)
        cached = self._assumptions_ok.get(key)
        if cached is not None:
            return cached or None
        u = Unrolling(st, {}, self.settings.step_ms, assumptions)
        for a in assumptions:
            for n in sorted(names(a.expr)):
                u.env(n, 0)
        solver = z.make_solver(self.settings)
        solver.add(*u.environment([0]))
        outcome = z.check(solver, want_model=False)
        problem = ""
        if outcome.status is CheckStatus.UNSAT:
            problem = f"{_CONTRADICTORY} (they contradict each other); nothing can be proved"
        elif outcome.status is CheckStatus.TIMEOUT:
            problem = f"{_UNDECIDED_TIMEOUT} ({outcome.reason})"
        elif outcome.status is not CheckStatus.SAT:
            problem = f"{_UNDECIDED_UNKNOWN} ({outcome.reason})"
        if outcome.status in (CheckStatus.SAT, CheckStatus.UNSAT):
            self._assumptions_ok.put(key, problem)
        return problem or None

    def _assumption_key(self, upir: UPIR, st: Structure) -> tuple[object, ...]:
        """What the assumptions allow depends on the domains of their names,
        which depend on the architecture (``env.pay_failure_rate`` is free beside
        a queue named pay, in [0, 1] for a service named pay): the texts and the
        domains, memoized per specification and shape."""
        info = self._spec_info(upir)
        memo_key = (self._shape(upir), info.token)
        found = self._assumption_keys.get(memo_key)
        if found is None:
            used: set[str] = set()
            for a in upir.specification.assumptions:
                used |= names(a.expr)
            found = (
                tuple(sorted(info.texts)),
                tuple((n, st.domain_text(n)) for n in sorted(used)),
            )
            self._assumption_keys.put(memo_key, found)
        return found

    def _check_values(self, upir: UPIR, values: Mapping[str, Fraction | Number]) -> None:
        issues: list[FieldIssue] = []
        for key, raw in values.items():
            field = f"parameters.{key}"
            comp_name, _, param = key.partition(".")
            if not upir.architecture.has_component(comp_name):
                issues.append(FieldIssue(field, f"no component named '{comp_name}'"))
                continue
            ctype = COMPONENT_TYPES[upir.architecture.component(comp_name).type]
            spec = ctype.params.get(param)
            if spec is None:
                issues.append(FieldIssue(field, f"a {ctype.name} has no parameter '{param}'"))
                continue
            try:
                value = to_fraction(raw)
            except ValueError:
                issues.append(FieldIssue(field, f"not a finite number: {raw!r}"))
                continue
            if value < spec.lower or (spec.integer and value.denominator != 1):
                issues.append(
                    FieldIssue(
                        field,
                        f"{value} is not a valid {param} (>= {spec.lower}, whole: {spec.integer})",
                    )
                )
                continue
            domain = upir.domain(key)
            if domain is not None and not domain.contains(value):
                issues.append(
                    FieldIssue(
                        field,
                        f"{value} lies outside the declared domain [{domain.min}, {domain.max}]",
                    )
                )
        if issues:
            raise InvalidSpecError(issues)

    def _log(self, r: VerificationResult, quiet: bool = False) -> None:
        verb = _VERBS[r.status]
        cached = "true" if r.cached else "false"
        level = logging.INFO if r.status in (Verdict.PROVED, Verdict.VIOLATED) else logging.WARNING
        if quiet:
            level = logging.DEBUG
        log.log(
            level, "%s '%s' in %dms (cached: %s)", verb, r.property.name, round(r.time_ms), cached
        )


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class _ParamView(Mapping[str, Fraction]):
    """``<component>.<param>`` -> exact value, read through the verifier's
    per-component memo instead of building one big dict per composition."""

    def __init__(
        self, comps: Mapping[str, Component], params_of: Callable[[Component], dict[str, Fraction]]
    ) -> None:
        self._comps = comps
        self._params_of = params_of

    def __getitem__(self, key: str) -> Fraction:
        comp, _, attr = key.partition(".")
        found = self._comps.get(comp)
        if found is None:
            raise KeyError(key)
        return self._params_of(found)[attr]

    def __iter__(self) -> Iterator[str]:
        for name, comp in self._comps.items():
            for attr in self._params_of(comp):
                yield f"{name}.{attr}"

    def __len__(self) -> int:
        return sum(len(self._params_of(c)) for c in self._comps.values())
