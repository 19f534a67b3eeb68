"""Synthesis outcomes: status, per-iteration records and the result, with the
JSON form the ``upir synthesize --json`` contract fixes (DESIGN.md section 5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from upir.core.numbers import to_json_number
from upir.verification import VerificationReport


class SynthesisStatus(str, Enum):
    """``SUCCESS``: parameters proved by the full verifier. ``UNSAT``: no values in
    the domains can satisfy the spec. ``PARTIAL``: out of iterations (or every
    remaining candidate was undecidable); ``best_candidate`` is the closest.
    ``TIMEOUT``: out of time. ``INVALID_SPEC``: the input cannot be synthesized."""

    SUCCESS = "SUCCESS"
    UNSAT = "UNSAT"
    PARTIAL = "PARTIAL"
    TIMEOUT = "TIMEOUT"
    INVALID_SPEC = "INVALID_SPEC"


Values = Mapping[str, Fraction]


def _frozen(values: Mapping[str, Fraction]) -> Values:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class IterationRecord:
    """One CEGIS round: the candidate proposed, how long proposing, verifying
    and learning (encoding the new counterexamples) took (ms), which properties
    were not PROVED and how many new counterexamples the round added to the
    set. ``skipped_verifier``: the candidate was refuted
    in the steady state before the verifier saw it (:mod:`upir.synthesis.steady`)."""

    index: int
    candidate: Values
    propose_ms: float
    verify_ms: float
    failed: tuple[str, ...]
    new_counterexamples: int
    inconclusive: tuple[str, ...] = ()
    skipped_verifier: bool = False
    learn_ms: float = 0.0

    @property
    def time_ms(self) -> float:
        """The whole round, ms."""
        return self.propose_ms + self.verify_ms + self.learn_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "candidate": json_values(self.candidate),
            "proposeMs": round(self.propose_ms, 3),
            "verifyMs": round(self.verify_ms, 3),
            "learnMs": round(self.learn_ms, 3),
            "failed": list(self.failed),
            "inconclusive": list(self.inconclusive),
            "newCounterexamples": self.new_counterexamples,
            "skippedVerifier": self.skipped_verifier,
        }


@dataclass(frozen=True)
class SynthesisResult:
    """What :meth:`upir.synthesis.Synthesizer.synthesize` returns.

    ``parameters``: the synthesized hole values (``<component>.<param>`` -> exact
    value), only for SUCCESS (empty otherwise, so nothing unproved is ever
    applied by mistake). ``report``: the *fresh* full verifier's report for those
    values (SUCCESS only when every property in it is PROVED). ``best_candidate``
    and ``violated``: for PARTIAL and TIMEOUT, the candidate with the fewest
    properties not PROVED, and those properties. ``time_ms``: wall-clock time of
    the whole synthesis. ``objective``: the optimization criteria of the answer
    (``cost``, ``latency_bound_ms``, ``change``), when known. ``optimal``: the
    answer is the lexicographic optimum among the points consistent with every
    counterexample (False when the optimizer gave up and a plain solver
    proposed it)."""

    status: SynthesisStatus
    parameters: Values
    iterations: int
    time_ms: float
    explanation: str
    report: VerificationReport | None = None
    best_candidate: Values = field(default_factory=lambda: MappingProxyType({}))
    violated: tuple[str, ...] = ()
    history: tuple[IterationRecord, ...] = ()
    counterexamples: int = 0
    objective: Mapping[str, Fraction] = field(default_factory=lambda: MappingProxyType({}))
    optimal: bool = True

    @property
    def succeeded(self) -> bool:
        return self.status is SynthesisStatus.SUCCESS

    def iteration_times_ms(self) -> tuple[float, ...]:
        return tuple(r.time_ms for r in self.history)

    def to_json(self, *, details: bool = True) -> dict[str, Any]:
        """The CLI contract's object (``status``, ``parameters``, ``iterations``,
        ``timeMs``, ``explanation``), plus details unless ``details`` is False."""
        out: dict[str, Any] = {
            "status": self.status.value,
            "parameters": json_values(self.parameters),
            "iterations": self.iterations,
            "timeMs": round(self.time_ms, 3),
            "explanation": self.explanation,
        }
        if not details:
            return out
        out["parametersExact"] = {k: str(v) for k, v in self.parameters.items()}
        out["bestCandidate"] = json_values(self.best_candidate)
        out["violated"] = list(self.violated)
        out["counterexamples"] = self.counterexamples
        out["objective"] = {k: float(v) for k, v in self.objective.items()}
        out["optimal"] = self.optimal
        out["report"] = None if self.report is None else self.report.to_json()
        out["history"] = [r.to_json() for r in self.history]
        return out


def json_values(values: Mapping[str, Fraction]) -> dict[str, int | float]:
    return {k: to_json_number(v) for k, v in values.items()}


def frozen(values: Mapping[str, Fraction]) -> Values:
    return _frozen(values)
