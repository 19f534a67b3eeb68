"""A violated predicate's quantities at the failing step (issue 25), computed
exactly from the counterexample, without the solver."""

from __future__ import annotations

from fractions import Fraction as F

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.expr import parse
from upir.verification import Counterexample
from upir.verification.explain import (
    compound_operands,
    describe_violation,
    explain_violation,
    show_number,
)


def _prop(predicate: str, op: TemporalOperator = TemporalOperator.ALWAYS) -> TemporalProperty:
    return TemporalProperty("p", op, parse(predicate, field="p", expect="bool"))


def _cex(
    trace: list[dict[str, F]], violated_at: int | None, params: dict[str, F] | None = None
) -> Counterexample:
    return Counterexample(
        env=({"env.arrival_rps": F(800)},),
        trace=tuple(trace),
        violated_at=violated_at,
        params=params or {},
        step_ms=100,
        horizon=len(trace) - 1,
        constant=True,
    )


def test_stateless_budget_shows_the_product_and_the_parameters() -> None:
    prop = _prop("gw.timeout_ms * (gw.retries + 1) <= 2000")
    v = explain_violation(prop, _cex([{}], 0, {"gw.timeout_ms": F(800), "gw.retries": F(2)}))
    assert v.step == 0 and not v.last
    (c,) = v.comparisons
    assert c.holds is False and c.evaluated() == "2400 <= 2000"
    assert compound_operands(c) == [("gw.timeout_ms * (gw.retries + 1)", F(2400))]
    assert dict(v.values) == {"gw.timeout_ms": F(800), "gw.retries": F(2)}


def test_state_at_the_failing_step_not_another() -> None:
    trace = [{"q.dropped": F(0)}, {"q.dropped": F(0)}, {"q.dropped": F(89, 20)}]
    v = explain_violation(_prop("q.dropped == 0"), _cex(trace, 2))
    assert v.comparisons[0].evaluated() == "4.45 == 0" and v.comparisons[0].holds is False
    assert v.values["q.dropped"] == F(89, 20)


def test_whole_trace_operators_show_the_last_step_and_every_comparison() -> None:
    trace = [{"a.x": F(1), "a.y": F(5)}, {"a.x": F(2), "a.y": F(1, 3)}]
    prop = _prop("a.x > 3 or not (a.y < 1)", TemporalOperator.EVENTUALLY)
    v = explain_violation(prop, _cex(trace, None))
    assert v.last and v.step == 1
    assert [c.source for c in v.comparisons] == ["a.x > 3", "a.y < 1"]
    assert [c.holds for c in v.comparisons] == [False, True]
    assert v.comparisons[1].evaluated() == "0.333333 < 1"
    assert v.to_json()["comparisons"][0]["operands"][0] == {"source": "a.x", "value": 2.0}


def test_a_name_without_a_value_is_shown_as_unknown() -> None:
    v = explain_violation(_prop("a.x <= 1"), _cex([{}], 0))
    assert v.comparisons[0].holds is None and v.comparisons[0].evaluated() == "? <= 1"
    assert show_number(F(5, 2)) == "2.5" and show_number(None) == "?"


def test_described_for_people() -> None:
    prop = _prop("gw.timeout_ms * (gw.retries + 1) <= 2000")
    lines = describe_violation(prop, _cex([{}], 0, {"gw.timeout_ms": F(800), "gw.retries": F(2)}))
    assert lines == [
        "ALWAYS gw.timeout_ms * (gw.retries + 1) <= 2000 fails at step 0, t = 0 ms:",
        "  gw.timeout_ms * (gw.retries + 1) <= 2000: 2400 <= 2000 is false",
        "    gw.timeout_ms * (gw.retries + 1) = 2400",
        "  where gw.timeout_ms = 800, gw.retries = 2",
    ]
    trace = [{"q.dropped": F(0)}, {"q.dropped": F(89, 20)}]
    assert describe_violation(_prop("q.dropped == 0"), _cex(trace, 1)) == [
        "ALWAYS q.dropped == 0 fails at step 1, t = 100 ms:",
        "  q.dropped == 0: 4.45 == 0 is false",
    ]
