"""One window of live observations against the assumptions and the proved
bounds (upir.conformance.live), and the hysteresis of the reported state."""

from __future__ import annotations

from typing import Any

import pytest

from upir.conformance.live import (
    ConformanceState,
    Finding,
    Reason,
    advance,
    describe,
    judge,
    proved_bounds,
    quantity_of,
)
from upir.core import UPIR
from upir.settings import ConformanceSettings, SolverSettings
from upir.verification import Verifier

SERVICE = {"replicas": 2, "concurrency": 8, "timeout_ms": 100, "retries": 1}
ASSUMPTIONS = ["env.arrival_rps <= 200", "1 <= env.gw_service_ms <= 20"]


def _upir(make_upir: Any, **kw: Any) -> UPIR:
    return make_upir(  # type: ignore[no-any-return]
        [{"name": "gw", "type": "service", "params": SERVICE}],
        assumptions=ASSUMPTIONS,
        properties=[
            # proved at every step: gives a bound on gw.latency_ms
            {
                "name": "fast",
                "operator": "WITHIN",
                "predicate": "gw.latency_ms <= 400 and gw.retries <= 3",
                "timeBoundMs": 1000,
            },
            # violated: gives no bound
            {"name": "tight", "operator": "ALWAYS", "predicate": "gw.latency_ms <= 1"},
        ],
        constraints={"latency_ms": {"max": 500}, "throughput_rps": {"min": 100000}},
        **kw,
    )


@pytest.fixture
def upir(make_upir: Any) -> UPIR:
    return _upir(make_upir)


def _bounds(upir: UPIR, metrics: list[str]) -> Any:
    report = Verifier(SolverSettings()).verify(upir)
    return proved_bounds(report, metrics)


def test_metrics_name_model_quantities() -> None:
    assert quantity_of("latency_ms") == "system.latency_ms"
    assert quantity_of("throughput_rps") == "system.throughput_rps"
    assert quantity_of("gw.latency_ms") == "gw.latency_ms"
    assert quantity_of("error_rate") is None


def test_only_proved_bounds_on_measured_quantities_count(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms", "throughput_rps", "gw.latency_ms", "error_rate"])
    found = {(b.metric, b.proved_by, b.text) for b in bounds}
    assert found == {
        ("latency_ms", "constraint.latency_ms", "system.latency_ms <= 500"),
        ("gw.latency_ms", "fast", "gw.latency_ms <= 400"),
    }
    # the violated throughput constraint and property `tight` bound nothing
    assert not [b for b in bounds if b.metric == "throughput_rps" or b.proved_by == "tight"]


def test_until_proved_through_its_trigger_gives_no_bound(make_upir: Any) -> None:
    upir = make_upir(
        [{"name": "gw", "type": "service", "params": SERVICE}],
        assumptions=ASSUMPTIONS,
        properties=[
            {
                "name": "u",
                "operator": "UNTIL",
                "predicate": "gw.latency_ms <= 1",
                "trigger": "gw.retries <= 3",
            }
        ],
    )
    report = Verifier(SolverSettings()).verify(upir)
    assert report.results[0].passed
    assert proved_bounds(report, ["gw.latency_ms"]) == ()


def test_conformant_when_every_check_holds(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms"])
    f = judge(
        upir.specification.assumptions,
        {"env.arrival_rps": 150.0, "env.gw_service_ms": 5.0},
        bounds,
        {"latency_ms": 120.5},
    )
    assert f.reason is Reason.CONFORMANT and f.reason.status is True
    assert "3 check(s) hold" in f.message and "latency_ms=120.5" in f.message
    assert f.observed == {"env.arrival_rps": 150.0, "env.gw_service_ms": 5.0, "latency_ms": 120.5}
    assert f.limits == {
        ("env.arrival_rps", "max"): 200.0,
        ("env.gw_service_ms", "min"): 1.0,
        ("env.gw_service_ms", "max"): 20.0,
        ("latency_ms", "max"): 500.0,
    }


def test_a_broken_assumption_names_it_and_the_value(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms"])
    f = judge(
        upir.specification.assumptions,
        {"env.arrival_rps": 250.0, "env.gw_service_ms": None},
        bounds,
        {"latency_ms": 900.0},
    )
    assert f.reason is Reason.ASSUMPTION_VIOLATED and f.reason.status is False
    assert "assumption 'env.arrival_rps <= 200' does not hold: observed env.arrival_rps=250" in (
        f.message
    )
    # the exceeded bound is named too; the assumption comes first
    assert "proved bound 'system.latency_ms <= 500'" in f.message


def test_exact_arithmetic_at_the_bound(upir: UPIR) -> None:
    # 200.0 is exactly the bound: allowed (a float tolerance would blur this)
    f = judge(upir.specification.assumptions, {"env.arrival_rps": 200.0}, (), {})
    assert f.reason is Reason.CONFORMANT
    f = judge(upir.specification.assumptions, {"env.arrival_rps": 200.000001}, (), {})
    assert f.reason is Reason.ASSUMPTION_VIOLATED
    assert "env.arrival_rps=200.000001" in f.message


def test_a_measured_metric_beyond_its_proved_bound(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms", "gw.latency_ms"])
    f = judge(
        upir.specification.assumptions,
        {"env.arrival_rps": 100.0},
        bounds,
        {"latency_ms": 300.0, "gw.latency_ms": 450.25},
    )
    assert f.reason is Reason.BOUND_EXCEEDED
    assert f.message == (
        "proved bound 'gw.latency_ms <= 400' (fast) exceeded: observed gw.latency_ms=450.25"
    )


def test_no_data_when_nothing_could_be_checked(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms"])
    f = judge(
        upir.specification.assumptions,
        {"env.arrival_rps": None, "env.gw_service_ms": float("nan")},
        bounds,
        {"latency_ms": None},
        {"latency_ms": "returned no sample"},
    )
    assert f.reason is Reason.NO_DATA and f.reason.status is None
    assert f.message == "the queries returned nothing (latency_ms: returned no sample)"
    f = judge(upir.specification.assumptions, {}, (), {"error_rate": 0.1})
    assert f.reason is Reason.NO_DATA
    assert f.message.startswith("nothing to check")


def _finding(reason: Reason, message: str = "") -> Finding:
    return Finding(reason, message or reason.value)


def test_hysteresis_needs_n_agreeing_windows_to_change_status() -> None:
    s3 = ConformanceSettings(windows=3)
    st = advance(ConformanceState(), _finding(Reason.CONFORMANT, "ok 1"), s3)
    assert (st.reason, st.message, st.conformant) == (Reason.CONFORMANT, "ok 1", True)
    # one noisy window, then back: nothing flips
    st = advance(st, _finding(Reason.ASSUMPTION_VIOLATED, "high"), s3)
    assert st.reason is Reason.CONFORMANT and st.pending_windows == 1
    assert describe(st, s3) == (
        "ok 1 (the last 1 of 3 windows needed to change it gave AssumptionViolated)"
    )
    st = advance(st, _finding(Reason.CONFORMANT, "ok 2"), s3)
    assert (st.reason, st.message, st.pending, st.pending_windows) == (
        Reason.CONFORMANT,
        "ok 2",
        None,
        0,
    )
    # three non-conformant windows in a row, of either reason: flips on the third
    st = advance(st, _finding(Reason.ASSUMPTION_VIOLATED), s3)
    st = advance(st, _finding(Reason.BOUND_EXCEEDED), s3)
    assert st.reason is Reason.CONFORMANT
    st = advance(st, _finding(Reason.ASSUMPTION_VIOLATED, "high again"), s3)
    assert (st.reason, st.message, st.conformant) == (
        Reason.ASSUMPTION_VIOLATED,
        "high again",
        False,
    )
    # same status, other reason: reported at once
    st = advance(st, _finding(Reason.BOUND_EXCEEDED, "slow"), s3)
    assert (st.reason, st.message) == (Reason.BOUND_EXCEEDED, "slow")
    # NoData is its own status (Unknown): a NoData window interrupts a run
    st = advance(st, _finding(Reason.CONFORMANT), s3)
    st = advance(st, _finding(Reason.NO_DATA), s3)
    assert st.pending is Reason.NO_DATA and st.pending_windows == 1
    st = advance(st, _finding(Reason.CONFORMANT), s3)
    st = advance(st, _finding(Reason.CONFORMANT), s3)
    assert st.reason is Reason.BOUND_EXCEEDED and st.pending_windows == 2
    st = advance(st, _finding(Reason.CONFORMANT, "fine"), s3)
    assert (st.reason, st.message) == (Reason.CONFORMANT, "fine")


def test_one_window_means_no_hysteresis() -> None:
    s1 = ConformanceSettings(windows=1)
    st = advance(ConformanceState(), _finding(Reason.CONFORMANT), s1)
    st = advance(st, _finding(Reason.NO_DATA), s1)
    assert st.reason is Reason.NO_DATA and st.conformant is None


def test_values_are_shown_as_read(upir: UPIR) -> None:
    bounds = _bounds(upir, ["latency_ms"])
    f = judge(
        upir.specification.assumptions,
        {"env.arrival_rps": 1e-300},
        bounds,
        {"latency_ms": 123456.7},
    )
    # neither rounded to fewer digits nor spelled out to 300 decimals
    assert f.message == (
        "proved bound 'system.latency_ms <= 500' (constraint.latency_ms) exceeded: "
        "observed latency_ms=123456.7"
    )
    f = judge(upir.specification.assumptions, {"env.arrival_rps": 1e-300}, (), {})
    assert f.message == "1 check(s) hold: env.arrival_rps=1e-300"
