"""Verdicts, counterexamples and reports (DESIGN.md section 4), with JSON forms."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from upir.core.temporal import TemporalProperty


class Verdict(str, Enum):
    """The answer for one property. Only ``PROVED`` ever counts as a pass."""

    PROVED = "PROVED"
    VIOLATED = "VIOLATED"
    UNKNOWN = "UNKNOWN"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"

    @property
    def passed(self) -> bool:
        return self is Verdict.PROVED


# Severity order used to pick a report's overall verdict: any violation wins,
# then anything inconclusive.
_SEVERITY = {
    Verdict.PROVED: 0,
    Verdict.UNKNOWN: 1,
    Verdict.TIMEOUT: 2,
    Verdict.ERROR: 3,
    Verdict.VIOLATED: 4,
}

Values = Mapping[str, Fraction]


def _freeze(values: Mapping[str, Fraction]) -> Mapping[str, Fraction]:
    return MappingProxyType(dict(sorted(values.items())))


@dataclass(frozen=True)
class Counterexample:
    """A concrete run that violates a property.

    ``env`` holds the environment values per step (``env.*`` names); when
    ``constant`` it has one entry that holds at every step ``0..horizon``.
    Every step's environment binds every name the model, the assumptions and
    the property use, and satisfies every assumption: nothing is filled in at
    replay. ``trace`` holds the model's states and derived values per step (the
    same length as ``env``), computed exactly; a constant counterexample shows
    the one step ``violated_at`` (or step 0), computed in closed form.
    ``violated_at`` is, for ALWAYS properties, the first failing step, or, for a
    run compressed past ``horizon``'s search (a slow leak), the step from which
    every filling queue is full and the predicate fails (``None`` for operators
    that fail on the trace as a whole). ``params`` are the parameter values it
    was found for; ``step_ms`` and ``horizon`` say how to replay it. ``shown``
    names the environment values worth showing a person (those the solver
    chose); empty shows them all."""

    env: tuple[Values, ...]
    trace: tuple[Values, ...]
    violated_at: int | None
    params: Values
    step_ms: int
    horizon: int
    constant: bool = False
    shown: tuple[str, ...] = ()

    def env_at(self, step: int) -> Values:
        return self.env[0] if self.constant else self.env[step]

    def to_json(self) -> dict[str, Any]:
        """Numbers as floats for reading, plus the exact values as strings
        (``"1/3"``) under ``exact`` for replaying."""
        return {
            "constant": self.constant,
            "violatedAt": self.violated_at,
            "horizon": self.horizon,
            "stepMs": self.step_ms,
            "env": [_floats(e) for e in self.env],
            "trace": [_floats(t) for t in self.trace],
            "params": _floats(self.params),
            "shown": list(self.shown),
            "exact": {
                "env": [_strings(e) for e in self.env],
                "trace": [_strings(t) for t in self.trace],
                "params": _strings(self.params),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counterexample:
        exact = data["exact"]
        return cls(
            env=tuple(_freeze(_parse(e)) for e in exact["env"]),
            trace=tuple(_freeze(_parse(t)) for t in exact["trace"]),
            violated_at=data.get("violatedAt"),
            params=_freeze(_parse(exact["params"])),
            step_ms=int(data["stepMs"]),
            horizon=int(data["horizon"]),
            constant=bool(data.get("constant", False)),
            shown=tuple(str(n) for n in data.get("shown", ())),
        )

    def describe_env(self) -> str:
        """The environment in one line, for humans (the ``shown`` names)."""
        if self.constant:
            return _line(self._shown(self.env[0]))
        at = self.violated_at if self.violated_at is not None else len(self.env) - 1
        return f"step {at}: {_line(self._shown(self.env[at]))} ({len(self.env)} steps)"

    def _shown(self, values: Values) -> Values:
        if not self.shown:
            return values
        return {k: v for k, v in values.items() if k in self.shown}


def _floats(values: Values) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(values.items())}


def _strings(values: Values) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(values.items())}


def _parse(values: Mapping[str, str]) -> dict[str, Fraction]:
    return {k: Fraction(v) for k, v in values.items()}


def _line(values: Values) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(values.items()))


def _short(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.6g}"


@dataclass(frozen=True)
class VerificationResult:
    """The verdict for one property.

    ``proof`` says what a PROVED verdict covers: ``"stateless"`` (the predicates
    depend on no state, so one step decides every step), ``"inductive"`` (holds at
    every reachable step, by k-induction or by composed contracts), or
    ``"bounded:N"`` (holds on every trace of N steps). ``method`` is
    ``"monolithic"`` or ``"compositional"``. ``time_ms`` is wall-clock time of this
    check (the lookup time when ``cached``)."""

    property: TemporalProperty
    status: Verdict
    proof: str | None = None
    counterexample: Counterexample | None = None
    time_ms: float = 0.0
    cached: bool = False
    message: str = ""
    method: str = "monolithic"

    @builtins.property
    def passed(self) -> bool:
        return self.status is Verdict.PROVED

    def rebind(self, prop: TemporalProperty, *, cached: bool, time_ms: float) -> VerificationResult:
        """The same verdict for an equivalent property (cache hits)."""
        return VerificationResult(
            prop,
            self.status,
            self.proof,
            self.counterexample,
            time_ms,
            cached,
            self.message,
            self.method,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "property": self.property.name,
            "kind": self.property.kind,
            "operator": self.property.operator.value,
            "status": self.status.value,
            "proof": self.proof,
            "method": self.method,
            "counterexample": None
            if self.counterexample is None
            else self.counterexample.to_json(),
            "timeMs": round(self.time_ms, 3),
            "cached": self.cached,
            "message": self.message,
        }


@dataclass(frozen=True)
class VerificationReport:
    """Verdicts for the properties of one UPIR, in the order they were asked."""

    results: tuple[VerificationResult, ...]
    time_ms: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True only when every property is PROVED (and there is at least one or
        the spec has none)."""
        return all(r.passed for r in self.results)

    @property
    def status(self) -> Verdict:
        """PROVED when all are; else the most severe verdict (VIOLATED first)."""
        worst = Verdict.PROVED
        for r in self.results:
            if _SEVERITY[r.status] > _SEVERITY[worst]:
                worst = r.status
        return worst

    def by_name(self) -> dict[str, VerificationResult]:
        return {r.property.name: r for r in self.results}

    def failures(self) -> tuple[VerificationResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "results": [r.to_json() for r in self.results],
            "counts": self.counts(),
            "timeMs": round(self.time_ms, 3),
            "warnings": list(self.warnings),
        }


def merge(
    results: Sequence[VerificationResult], time_ms: float, warnings: Sequence[str] = ()
) -> VerificationReport:
    return VerificationReport(tuple(results), time_ms, tuple(warnings))
