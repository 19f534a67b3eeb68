"""The guardrail's rules, with a scripted verifier standing in for Z3.

Only PROVED for every property lets a candidate through; every other verdict
rejects it; invalid values never reach the verifier; decisions are memoised
per exact vector; checking stops at the first failure and asks first the
property with the cheapest expected rejection. (The real verifier is exercised against brute
force in tests/integration/tuning/test_guardrail_bruteforce.py.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any, cast

import pytest

from upir.core import UPIR
from upir.core.temporal import TemporalProperty
from upir.settings import SolverSettings
from upir.verification import Counterexample, Verdict, VerificationResult, Verifier
from upir.verification.guardrail import Guardrail

Rule = Callable[[dict[str, Fraction], str], Verdict]


class ScriptedClock:
    """The guardrail's clock: time passes only when the verifier says so, so
    the check times that order the properties do not depend on machine load."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedVerifier:
    """Answers ``verify_property`` by a rule over the candidate's parameters;
    each answer takes ``delay_s`` of the scripted clock (0.1 ms by default)."""

    def __init__(self, rule: Rule, delay_s: dict[str, float] | None = None) -> None:
        self.rule = rule
        self.delay_s = delay_s or {}
        self.calls: list[str] = []
        self.quiet: list[bool] = []
        self.clock = ScriptedClock()

    def verify_property(
        self, upir: UPIR, prop: TemporalProperty, *, quiet: bool = False
    ) -> VerificationResult:
        self.calls.append(prop.name)
        self.quiet.append(quiet)
        self.clock.now += self.delay_s.get(prop.name, 0.0001)
        status = self.rule(upir.tunable_values(), prop.name)
        cex = None
        if status is Verdict.VIOLATED:
            cex = Counterexample(
                env=({},), trace=({},), violated_at=0, params={}, step_ms=100, horizon=0
            )
        return VerificationResult(
            prop, status, counterexample=cex, message=f"{status.value} by rule"
        )


def _upir() -> UPIR:
    return UPIR.from_resource(
        {
            "apiVersion": "upir.dev/v1alpha1",
            "kind": "UPIR",
            "metadata": {"name": "t"},
            "spec": {
                "architecture": {
                    "components": [
                        {
                            "name": "gateway",
                            "type": "service",
                            "params": {"timeout_ms": 200, "retries": 1},
                        }
                    ]
                },
                "specification": {
                    "assumptions": ["env.arrival_rps <= 10"],
                    "properties": [
                        {"name": "a", "operator": "ALWAYS", "predicate": "gateway.retries <= 2"},
                        {
                            "name": "b",
                            "operator": "ALWAYS",
                            "predicate": "gateway.timeout_ms <= 500",
                        },
                    ],
                    "constraints": {"cost": {"max": 10}},
                },
                "parameters": [
                    {"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10},
                    {"name": "gateway.retries", "min": 0, "max": 3},
                ],
            },
        }
    )


def _guard(
    rule: Rule, delay_s: dict[str, float] | None = None, **kwargs: Any
) -> tuple[Guardrail, ScriptedVerifier]:
    v = ScriptedVerifier(rule, delay_s)
    return Guardrail(cast(Verifier, v), _upir(), clock=v.clock, **kwargs), v


def test_all_proved_passes_and_is_memoised() -> None:
    g, v = _guard(lambda p, n: Verdict.PROVED)
    d = g.check({"gateway.retries": 2})
    assert d.proved and d.status is Verdict.PROVED and not d.cached
    assert d.values == {"gateway.timeout_ms": 200, "gateway.retries": 2}  # completed
    assert v.calls == ["a", "b", "constraint.cost"]
    assert d.report is not None and len(d.report.results) == 3
    again = g.check({"gateway.timeout_ms": 200, "gateway.retries": 2.0})
    assert again.proved and again.cached and v.calls == ["a", "b", "constraint.cost"]
    st = g.stats()
    assert (st.checks, st.proved, st.rejected, st.cached) == (2, 2, 0, 1)
    assert v.quiet == [True, True, True]  # candidates' verdicts log at DEBUG


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_candidate_verdicts_log_at_debug_with_the_real_verifier() -> None:
    """A tuning run checks thousands of candidates: at the default INFO level
    their per-property verdicts would flood the log (and the progress bar)."""
    logger = logging.getLogger("upir.verification")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        g = Guardrail(Verifier(SolverSettings()), _upir())
        assert g.check({"gateway.retries": 2}).proved
        assert not g.check({"gateway.retries": 3}).proved
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert handler.records  # the verdicts are still there for DEBUG
    assert {r.levelno for r in handler.records} == {logging.DEBUG}


@pytest.mark.parametrize("bad", [Verdict.VIOLATED, Verdict.UNKNOWN, Verdict.TIMEOUT, Verdict.ERROR])
def test_anything_but_proved_rejects(bad: Verdict) -> None:
    g, v = _guard(lambda p, n: bad if n == "b" else Verdict.PROVED)
    d = g.check({"gateway.retries": 0})
    assert not d.proved and d.status is bad and d.failed == ("b",)
    assert (d.counterexample is not None) == (bad is Verdict.VIOLATED)
    assert "b: " in d.message
    assert g.rejections == (d,)
    assert g.check({"gateway.retries": 0}).cached


def test_stops_at_the_first_failure_and_asks_the_likely_failure_first() -> None:
    g, v = _guard(
        lambda p, n: Verdict.VIOLATED if n == "b" and p["gateway.retries"] == 3 else Verdict.PROVED
    )
    assert not g.check({"gateway.retries": 3}).proved
    assert v.calls == ["a", "b"]  # constraint.cost never asked
    v.calls.clear()
    assert g.check({"gateway.retries": 2}).proved
    assert v.calls == ["b", "a", "constraint.cost"]  # the one that failed goes first


def test_slow_properties_that_rarely_fail_go_last() -> None:
    g, v = _guard(
        lambda p, n: Verdict.TIMEOUT if n == "b" and p["gateway.retries"] == 0 else Verdict.PROVED,
        delay_s={"a": 0.02},
    )
    for retries in (1, 2, 3, 0):
        g.check({"gateway.retries": retries})
    v.calls.clear()
    g.check({"gateway.timeout_ms": 300})
    assert v.calls.index("a") == 2  # slow and never failed: after the two fast ones


def test_exhaustive_reports_every_failure() -> None:
    g, _ = _guard(lambda p, n: Verdict.PROVED if n == "a" else Verdict.TIMEOUT, exhaustive=True)
    d = g.check({"gateway.retries": 1})
    assert d.failed == ("b", "constraint.cost")
    assert d.report is not None and len(d.report.results) == 3


@pytest.mark.parametrize(
    "values",
    [
        {"gateway.timeout_ms": 55},  # off the step grid
        {"gateway.timeout_ms": 2000},  # above the max
        {"gateway.retries": 1.5},  # not whole
        {"gateway.replicas": 2},  # not tunable
        {"nope.x": 1},
        {"gateway.retries": float("nan")},
    ],
)
def test_invalid_values_are_rejected_without_asking(values: dict[str, Any]) -> None:
    g, v = _guard(lambda p, n: Verdict.PROVED)
    d = g.check(values)
    assert not d.proved and d.status is Verdict.ERROR and d.report is None and d.message
    assert v.calls == []


def test_json_form() -> None:
    g, _ = _guard(lambda p, n: Verdict.VIOLATED)
    out = g.check({"gateway.retries": 1}).to_json()
    assert out["proved"] is False and out["status"] == "VIOLATED"
    assert out["parameters"] == {"gateway.timeout_ms": 200, "gateway.retries": 1}
    assert out["counterexample"] is not None and out["failed"] == ["a"]
