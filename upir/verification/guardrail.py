"""The guardrail: nothing the learner proposes is applied unless Z3 proved it.

Every candidate parameter vector goes to the verifier. Only ``PROVED`` for every
property of the spec (invariants, properties, constraints) lets it through;
``VIOLATED``, ``UNKNOWN``, ``TIMEOUT`` and ``ERROR`` all reject it, and so does a
value that is not a declared tunable parameter or lies outside its domain. On a
rejection the parameters in force stay as they are, and the rejection is kept
with the first counterexample.

How the agent learns about it (the choice asked for by the design):

- **Masking** for what is known before asking: moves that would leave a
  parameter's domain or grid are masked out of the policy
  (:class:`upir.tuning.space.ParameterSpace`), so no sample is wasted on them
  and they never reach the verifier.
- **A penalty** for guardrail rejections. Whether a vector is proved is only
  known by asking the verifier, and asking for every one of the ``3^n`` joint
  moves to build an exact mask would cost ``3^n`` checks per decision. A
  rejected move is instead recorded as a transition that left the parameters
  unchanged, with the window's reward minus a penalty, so the policy learns to
  avoid the moves that fail, in the states where they fail
  (:meth:`upir.tuning.learner.ArchitectureLearner.record_rejection`).

Speed: a decision is memoised per exact vector (the verdict of a vector under a
fixed spec never changes; an inconclusive verdict is memoised too, which can
only keep rejecting it, never let it through). Fresh vectors use the verifier's
own fast path: per-property verdicts cached by cone of influence, contracts per
component, and unchanged components reused by identity. The guardrail checks
properties one at a time and stops at the first one not proved (unless
``exhaustive``), cheapest expected rejection first: properties are ordered by
their mean check time over how often they failed, so a property that is quick to
refute and often fails is asked first.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from upir.core.numbers import Number, to_fraction, to_json_number
from upir.core.upir import UPIR
from upir.errors import SolverError
from upir.verification.results import (
    Counterexample,
    Verdict,
    VerificationReport,
    VerificationResult,
)
from upir.verification.verifier import Verifier

__all__ = ["GuardrailDecision", "GuardrailStats", "Guardrail"]

Values = Mapping[str, Fraction]


@dataclass(frozen=True)
class GuardrailDecision:
    """The guardrail's answer for one candidate vector."""

    values: Values
    """Every tunable parameter's candidate value (the base UPIR's for those not given)."""
    proved: bool
    """True only when every property of the spec is PROVED for ``values``."""
    status: Verdict
    """PROVED, or the verdict that rejected the candidate (ERROR for invalid values)."""
    report: VerificationReport | None
    """The verdicts computed: all properties when proved; on a rejection those
    checked up to the first failure (all with ``exhaustive``); None when the
    values were invalid and nothing was verified."""
    counterexample: Counterexample | None
    """The first failing property's counterexample (VIOLATED only)."""
    failed: tuple[str, ...]
    """Names of the properties found not proved."""
    time_ms: float
    """Wall-clock time of this check, ms (the lookup time when ``cached``)."""
    cached: bool
    """True when the decision came from the guardrail's memo."""
    message: str = ""
    """Why it was rejected, for humans (empty when proved)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "proved": self.proved,
            "status": self.status.value,
            "parameters": {k: to_json_number(v) for k, v in self.values.items()},
            "failed": list(self.failed),
            "counterexample": None
            if self.counterexample is None
            else self.counterexample.to_json(),
            "timeMs": round(self.time_ms, 3),
            "cached": self.cached,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class GuardrailStats:
    """Counters and timings since the guardrail was made (times in ms)."""

    checks: int
    proved: int
    rejected: int
    cached: int
    median_ms: float
    p90_ms: float
    max_ms: float
    median_fresh_ms: float
    """Median over the checks that were not memo hits (NaN when none)."""
    screened: int = 0
    """Screening checks (:meth:`Guardrail.screen`: moves masked before a
    proposal); not in ``checks`` nor in the times above."""
    screen_ms: float = 0.0
    """Total time of the screening checks (ms)."""


@dataclass
class _Counters:
    checks: int = 0
    proved: int = 0
    rejected: int = 0
    cached: int = 0
    screened: int = 0
    screen_ms: float = 0.0
    times: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    fresh: deque[float] = field(default_factory=lambda: deque(maxlen=4096))


class Guardrail:
    """Checks candidate parameter vectors of one UPIR with the verifier.

    Args:
        verifier: the shared verifier (its proof cache makes repeated cones cheap).
        upir: the resource whose spec candidates must satisfy; non-tunable
            parameters stay as in it.
        exhaustive: verify every property even after one failed (full reports,
            slower rejections).
        memo_size: decisions memoised (LRU, per exact vector).
        history: rejections kept for reports (most recent last).
        clock: seconds from a monotonic clock (default ``time.perf_counter``);
            it times checks, and the times order the properties, so tests
            of that order pass a scripted clock rather than depend on load.
    """

    def __init__(
        self,
        verifier: Verifier,
        upir: UPIR,
        *,
        exhaustive: bool = False,
        memo_size: int = 4096,
        history: int = 256,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self.verifier = verifier
        self.upir = upir
        self.exhaustive = exhaustive
        self.names: tuple[str, ...] = tuple(d.name for d in upir.parameters)
        self._base = upir.tunable_values()
        # Built once: the verifier memoises cones by property identity.
        self._props = upir.specification.all_properties()
        # per property: checks, failures, total ms (orders the early-exit checks)
        self._prop_stats = [[0, 0, 0.0] for _ in self._props]
        self._memo: OrderedDict[tuple[tuple[str, Fraction], ...], GuardrailDecision] = OrderedDict()
        self._memo_size = memo_size
        self._rejections: deque[GuardrailDecision] = deque(maxlen=history)
        self._lock = threading.Lock()
        self._counters = _Counters()

    # -- public API ---------------------------------------------------------------
    def check(self, values: Mapping[str, Fraction | Number]) -> GuardrailDecision:
        """Decide whether ``values`` (some or all tunable parameters) may be applied."""
        decision = self._decide(values)
        self._count(decision)
        return decision

    def screen(self, values: Mapping[str, Fraction | Number]) -> bool:
        """Whether ``values`` would be proved: the same decision as :meth:`check`
        (and memoised with it), for screening moves before proposing one. A
        screened-out vector is not a rejection: it is not kept in
        :attr:`rejections` nor counted in ``checks``."""
        decision = self._decide(values)
        with self._lock:
            c = self._counters
            c.screened += 1
            c.screen_ms += decision.time_ms
        return decision.proved

    def _decide(self, values: Mapping[str, Fraction | Number]) -> GuardrailDecision:
        start = self._clock()
        full, problem = self._complete(values)
        key = tuple(sorted(full.items()))
        if problem is None:
            with self._lock:
                hit = self._memo.get(key)
                if hit is not None:
                    self._memo.move_to_end(key)
            if hit is not None:
                return replace(hit, time_ms=self._ms(start), cached=True)
            decision = self._verify(full, start)
            with self._lock:
                self._memo[key] = decision
                if len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        else:
            decision = GuardrailDecision(
                full, False, Verdict.ERROR, None, None, (), self._ms(start), False, problem
            )
        return decision

    @property
    def rejections(self) -> tuple[GuardrailDecision, ...]:
        """The most recent rejections, oldest first."""
        with self._lock:
            return tuple(self._rejections)

    def stats(self) -> GuardrailStats:
        with self._lock:
            c = self._counters
            times = sorted(c.times)
            fresh = list(c.fresh)
            checks, proved, rejected, cached = c.checks, c.proved, c.rejected, c.cached
            screened, screen_ms = c.screened, c.screen_ms
        nan = float("nan")
        return GuardrailStats(
            checks=checks,
            proved=proved,
            rejected=rejected,
            cached=cached,
            median_ms=statistics.median(times) if times else nan,
            p90_ms=times[int(0.9 * (len(times) - 1))] if times else nan,
            max_ms=times[-1] if times else nan,
            median_fresh_ms=statistics.median(fresh) if fresh else nan,
            screened=screened,
            screen_ms=screen_ms,
        )

    # -- internals -------------------------------------------------------------------
    def _complete(
        self, values: Mapping[str, Fraction | Number]
    ) -> tuple[dict[str, Fraction], str | None]:
        """The full tunable vector, and why it is invalid (None when valid)."""
        full = dict(self._base)
        problems: list[str] = []
        for name, raw in values.items():
            domain = self.upir.domain(name)
            if domain is None:
                problems.append(f"{name} is not a tunable parameter of this UPIR")
                continue
            try:
                value = to_fraction(raw)
            except (ValueError, TypeError):
                problems.append(f"{name}: not a finite number: {raw!r}")
                continue
            full[name] = value
            if not domain.contains(value):
                grid = f" on the grid of step {domain.step}" if domain.step is not None else ""
                whole = " (a whole number)" if domain.integer else ""
                problems.append(
                    f"{name}={value} lies outside its domain [{domain.min}, {domain.max}]"
                    f"{grid}{whole}"
                )
        return full, ("; ".join(problems) if problems else None)

    def _verify(self, full: dict[str, Fraction], start: float) -> GuardrailDecision:
        try:
            candidate = self.upir.with_params(full)
        except (KeyError, ValueError) as err:
            return GuardrailDecision(
                full, False, Verdict.ERROR, None, None, (), self._ms(start), False, str(err)
            )
        results: list[VerificationResult] = []
        failed: list[VerificationResult] = []
        with self._lock:
            order = self._check_order()
        for index in order:
            prop = self._props[index]
            t0 = self._clock()
            try:
                # candidates are checked by the thousand: their verdicts log at DEBUG
                result = self.verifier.verify_property(candidate, prop, quiet=True)
            except SolverError as err:  # verify_property maps these; be safe anyway
                result = VerificationResult(prop, Verdict.ERROR, message=str(err))
            with self._lock:
                st = self._prop_stats[index]
                st[0] += 1
                st[1] += 0 if result.passed else 1
                st[2] += self._ms(t0)
            results.append(result)
            if not result.passed:
                failed.append(result)
                if not self.exhaustive:
                    break
        elapsed = self._ms(start)
        report = VerificationReport(tuple(results), elapsed)
        if not failed:
            return GuardrailDecision(full, True, Verdict.PROVED, report, None, (), elapsed, False)
        first = failed[0]
        cex = next((r.counterexample for r in failed if r.counterexample is not None), None)
        message = "; ".join(
            f"{r.property.name}: {r.status.value}" + (f" ({r.message})" if r.message else "")
            for r in failed
        )
        return GuardrailDecision(
            full,
            False,
            report.status if self.exhaustive else first.status,
            report,
            cex,
            tuple(r.property.name for r in failed),
            elapsed,
            False,
            message,
        )

    def _ms(self, start: float) -> float:
        return (self._clock() - start) * 1000.0

    def _check_order(self) -> list[int]:
        """Properties in the order that rejects at the least expected cost: by
        mean check time over the (smoothed) share of checks that failed, the
        classic order for a sequence of tests that stops at the first failure.
        Before any statistics this is the spec's order."""

        def cost(i: int) -> float:
            checks, fails, total = self._prop_stats[i]
            mean_ms = total / checks if checks else 1.0
            return (mean_ms + 0.05) * (checks + 2) / (fails + 1)

        return sorted(range(len(self._props)), key=lambda i: (cost(i), i))

    def _count(self, decision: GuardrailDecision) -> None:
        with self._lock:
            c = self._counters
            c.checks += 1
            c.times.append(decision.time_ms)
            if decision.cached:
                c.cached += 1
            else:
                c.fresh.append(decision.time_ms)
            if decision.proved:
                c.proved += 1
            else:
                c.rejected += 1
                self._rejections.append(decision)
