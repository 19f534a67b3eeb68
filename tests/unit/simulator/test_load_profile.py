"""Offered load over time (:class:`upir.simulator.LoadProfile`) and the
simulator's argument checks."""

from __future__ import annotations

import pytest

from upir.errors import InvalidSpecError
from upir.simulator import GraphSimulator, LoadProfile, Network, Node


def _fields(exc: pytest.ExceptionInfo[InvalidSpecError]) -> set[str]:
    return {i.field for i in exc.value.issues}


def test_profile_rates() -> None:
    step = LoadProfile.step(100, 400, at_s=20)
    assert step.rate([0, 19.999, 20, 30]).tolist() == [100, 100, 400, 400]
    assert step.max_rate(0, 19) == 100 and step.max_rate(0, 20) == 400
    assert step.mean_rate(10, 30) == pytest.approx(250, rel=0.01)
    ramp = LoadProfile.ramp(100, 500, start_s=10, end_s=50)
    assert ramp.rate([0, 10, 30, 50, 99]).tolist() == [100, 100, 300, 500, 500]
    assert ramp.max_rate(0, 30) == pytest.approx(300)
    steady = LoadProfile.steady(250)
    assert steady.rate(1e6) == 250 and steady.name == "steady"
    # a down step: the max over an interval that contains it is the earlier level
    down = LoadProfile.step(400, 100, at_s=5)
    assert down.max_rate(0, 10) == 400


def test_shaped_profiles_of_the_command_line() -> None:
    assert LoadProfile.shaped("steady", 100, 300, 40).rate([0, 39]).tolist() == [100, 100]
    assert LoadProfile.shaped("shift", 100, 300, 40).rate([19, 20]).tolist() == [100, 300]
    ramp = LoadProfile.shaped("ramp", 100, 300, 40)
    assert ramp.rate([5, 20, 35]).tolist() == [100, 200, 300]
    with pytest.raises(InvalidSpecError, match="unknown profile"):
        LoadProfile.shaped("spiky", 100, 300, 40)


def test_profile_validation() -> None:
    with pytest.raises(InvalidSpecError, match="non-decreasing"):
        LoadProfile(((10.0, 1.0), (5.0, 1.0)))
    with pytest.raises(InvalidSpecError):
        LoadProfile(())
    with pytest.raises(InvalidSpecError):
        LoadProfile.steady(-5)
    with pytest.raises(InvalidSpecError) as exc:
        LoadProfile.steady(10, max_inflight=0)
    assert _fields(exc) == {"max_inflight"}


def test_bad_simulator_arguments() -> None:
    net = Network((Node("s", "service"),))
    prof = LoadProfile.steady(10)
    for seed in (-1, True, 1.5):
        with pytest.raises(InvalidSpecError, match="seed"):
            GraphSimulator(net, prof, seed=seed)  # type: ignore[arg-type]
    sim = GraphSimulator(net, prof)
    for bad in (0, -1, float("inf"), 1e9, True):
        with pytest.raises(InvalidSpecError, match="window_s"):
            sim.run_window(bad)
