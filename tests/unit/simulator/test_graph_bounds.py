"""Measured beside proved (upir.simulator.bounds): the ranges are the
verifier's composed contracts, and a mark means a measured value outside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from upir.cli.common import read_one_upir
from upir.errors import InvalidSpecError
from upir.simulator import GraphSimulator, LoadProfile, network_from_upir
from upir.simulator.bounds import _significantly_more, compare, model_bounds

ROOT = Path(__file__).resolve().parents[3]


def _wait(call: float, slots: int, util: float) -> float:
    """docs/model.md section 3.1."""
    return call * (slots - 1) / slots + 4.61 * call / (slots * (1 - util))


def test_bounds_are_the_model_equations_of_the_worked_example() -> None:
    # examples/api-service.yaml: gateway 6 x 16 slots, T 300, 2 retries,
    # s in [5, 40], f <= 0.01, up to 800 req/s: call_ms in [5, 3 x 40], its p99
    # latency from the quietest corner (0 req/s, 5 ms, no failure) to the
    # busiest (800 req/s, 40 ms, 1%); fulfil (4 x 16, 1 retry, s in [2, 20])
    upir = read_one_upir(str(ROOT / "examples/api-service.yaml"))
    b = model_bounds(upir)
    assert b is not None
    assert b["gateway.call_ms"] == (5.0, 120.0)
    util = 800 * 40 * 1.0101 / (1000 * 96)
    assert b["gateway.utilization"][1] == pytest.approx(util)
    assert b["gateway.latency_ms"] == pytest.approx(
        (5 + _wait(5, 96, 0), 120 + _wait(120, 96, util))
    )
    assert b["fulfil.call_ms"] == (2.0, 40.0)
    fulfil_util = 800 * 20 * 1.01 / (1000 * 64)
    assert b["fulfil.latency_ms"][1] == pytest.approx(40 + _wait(40, 64, fulfil_util))
    assert b["system.cost"] == (10.0, 10.0)
    assert b["gateway.availability"][0] == pytest.approx(1 - 0.01**3)
    assert b["gateway.shed_rps"] == (0.0, 0.0)


def test_a_saturable_service_has_no_latency_bound() -> None:
    """The gateway as it shipped under model 1 (3 x 8 slots) reaches
    utilization 1.35 at the assumed peak: its latency range is unbounded and
    it may shed."""
    upir = read_one_upir(str(ROOT / "examples/api-service.yaml"))
    b = model_bounds(upir, values={"gateway.replicas": 3, "gateway.concurrency": 8})
    assert b is not None
    assert b["gateway.utilization"][1] > 1.3
    assert b["gateway.latency_ms"][1] == float("inf")
    assert b["system.latency_ms"][1] == float("inf")
    assert b["gateway.shed_rps"][1] > 200
    assert b["system.loss"][1] > 0.25


def test_compare_marks_only_what_is_outside() -> None:
    upir = read_one_upir(str(ROOT / "examples/api-service.yaml"))
    bounds = model_bounds(upir)
    assert bounds is not None
    types = {c.name: c.type for c in upir.architecture.components}
    sim = GraphSimulator(network_from_upir(upir), LoadProfile.steady(100), seed=0)
    windows = sim.run(10, 5)
    checks = compare(windows, bounds, types, 100.0)
    assert not [c for c in checks if c.beyond]
    # the same run held against a made-up tighter bound is marked
    tight = {**bounds, "gateway.latency_ms": (0.0, 1.0), "system.cost": (0.0, 3.0)}
    marked = {(c.component, c.metric) for c in compare(windows, tight, types, 100.0) if c.beyond}
    assert marked == {("gateway", "p99_ms"), ("system", "cost")}
    row = next(c for c in checks if c.bound == "gateway.latency_ms").to_json()
    assert row["hi"] == pytest.approx(bounds["gateway.latency_ms"][1])
    assert row["beyond"] is False and row["measured"] <= 40


@pytest.mark.parametrize(
    ("failed", "total", "p", "beyond"),
    [
        (0, 10_000, 1e-4, False),
        (2, 10_000, 1e-4, False),  # twice the expected count: chance allows it
        (10, 10_000, 1e-4, True),  # ten times: not chance
        (1, 10, 0.0, True),  # any failure beyond a bound of none
        (500, 1000, 0.5, False),
        (1000, 1000, 0.9, True),
    ],
)
def test_availability_is_beyond_only_when_significant(
    failed: int, total: int, p: float, beyond: bool
) -> None:
    assert _significantly_more(failed, total, p) is beyond


def test_assumptions_that_allow_nothing_give_no_bounds_and_no_network(tmp_path: Path) -> None:
    text = (ROOT / "examples/api-service.yaml").read_text()
    text = text.replace('- "env.arrival_rps <= 800"', '- "900 <= env.arrival_rps <= 800"')
    path = tmp_path / "u.yaml"
    path.write_text(text)
    upir = read_one_upir(str(path))
    assert model_bounds(upir) is None
    with pytest.raises(InvalidSpecError) as err:
        network_from_upir(upir)
    assert "allow no environment" in str(err.value)
