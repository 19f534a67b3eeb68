"""Regime changes: the load watch tells a jump from drift, the learner restarts
from its first policy at a jump (and forgets its score model's windows), and
the score model tells loads apart when given the load as context."""

from __future__ import annotations

import io
import math
from dataclasses import replace
from fractions import Fraction as F

import numpy as np
import pytest
import torch

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.tuning.imagination import ModelSettings, ScoreModel, context_of
from upir.tuning.learner import LEARNER_CONFIG, ArchitectureLearner, LearnerSettings
from upir.tuning.restart import LoadWatch, RestartSettings

WATCH = RestartSettings(metric="offered_rps")


def _load(rps: float) -> dict[str, float]:
    return {"offered_rps": rps}


def test_slow_drift_is_followed_and_a_jump_either_way_is_seen_once() -> None:
    watch = LoadWatch(WATCH)
    rps = 100.0
    for _ in range(100):  # +1% a window: 2.7x in all, never 1.5x from the running mean
        assert not watch.jumped(_load(rps))
        rps *= 1.01
    assert watch.jumped(_load(rps * 2))
    assert not watch.jumped(_load(rps * 2))  # the mean restarted from the jump
    assert not watch.jumped(_load(rps * 2 * 1.3))  # within the factor
    assert watch.jumped(_load(rps / 2))  # down too


def test_windows_without_the_metric_say_nothing_and_the_state_round_trips() -> None:
    watch = LoadWatch(WATCH)
    for m in ({}, _load(0.0), _load(math.nan), {"throughput_rps": 5.0}):
        assert not watch.jumped(m)
    assert watch.mean is None
    watch.jumped(_load(100.0))
    again = LoadWatch(WATCH)
    again.load_state(watch.state())
    assert again.jumped(_load(200.0)) and watch.jumped(_load(200.0))
    assert not LoadWatch(RestartSettings()).jumped(_load(1e9))  # no metric: never


@pytest.mark.parametrize(
    ("restart", "field"),
    [
        (RestartSettings(factor=1.0), "restart.factor"),
        (RestartSettings(factor=math.inf), "restart.factor"),
        (RestartSettings(smoothing=0.0), "restart.smoothing"),
        (RestartSettings(smoothing=1.5), "restart.smoothing"),
        (RestartSettings(metric=""), "restart.metric"),
    ],
)
def test_bad_restart_settings_name_the_field(
    gateway_upir: UPIR, restart: RestartSettings, field: str
) -> None:
    with pytest.raises(InvalidSpecError) as err:
        ArchitectureLearner(gateway_upir, settings=LearnerSettings(restart=restart))
    assert field in str(err.value)


def _metrics(p: dict[str, F], rps: float) -> dict[str, float]:
    # more replicas are better: the policy learns to go up and grows confident
    return {
        "latency_ms": 400.0 / float(p["gateway.replicas"]),
        "throughput_rps": rps,
        "error_rate": 0.0,
        "offered_rps": rps,
    }


def _actor(learner: ArchitectureLearner) -> list[torch.Tensor]:
    return [t.detach().clone() for t in learner.agent.net.actor.state_dict().values()]


@pytest.mark.parametrize("forget", [True, False])
def test_a_jump_in_load_restarts_the_policy_and_drops_the_pending_move(
    gateway_upir: UPIR, forget: bool
) -> None:
    # (no imagination here: it would train the restarted policy at once)
    model = ModelSettings(enabled=True, min_windows=20, rollouts=2, horizon=2)
    st = LearnerSettings(model=model, restart=replace(WATCH, forget_model=forget))
    cfg = replace(LEARNER_CONFIG, num_steps=4, hidden_sizes=(8,))
    learner = ArchitectureLearner(gateway_upir, config=cfg, seed=3, settings=st)
    first = _actor(learner)
    params = gateway_upir.tunable_values()
    for _ in range(12):
        params = learner.learn_from_metrics(_metrics(params, 100.0), params)
    assert learner.counters["updates"] >= 2
    assert any(not torch.equal(a, b) for a, b in zip(first, _actor(learner), strict=True))
    assert learner.pending_proposal is not None
    before = dict(learner.counters)
    kept = ArchitectureLearner.from_bytes(learner.to_bytes(), gateway_upir)
    for lr in (learner, kept):  # a checkpoint keeps the running mean: both see the jump
        lr.learn_from_metrics(_metrics(params, 300.0), params)
        assert lr.counters["restarts"] == 1
        assert lr.counters["dropped"] == before["dropped"] + 1  # the load's doing, not the move's
        # the first policy again (the same seed builds the same weights)
        assert all(torch.equal(a, b) for a, b in zip(first, _actor(lr), strict=True))
        assert len(lr.model) == (1 if forget else 13)
        assert lr.params == params  # the values in force stay


def test_without_a_restart_metric_a_jump_changes_nothing(gateway_upir: UPIR) -> None:
    cfg = replace(LEARNER_CONFIG, num_steps=4, hidden_sizes=(8,))
    learner = ArchitectureLearner(gateway_upir, config=cfg, seed=3)
    first = _actor(learner)
    params = gateway_upir.tunable_values()
    for _ in range(12):
        params = learner.learn_from_metrics(_metrics(params, 100.0), params)
    dropped = learner.counters["dropped"]
    learner.learn_from_metrics(_metrics(params, 300.0), params)
    assert learner.counters["restarts"] == 0 and learner.counters["dropped"] == dropped
    assert any(not torch.equal(a, b) for a, b in zip(first, _actor(learner), strict=True))


def test_with_the_load_as_context_the_model_tells_loads_apart() -> None:
    """The same configurations score 0 at 100 req/s and 1 at 300 req/s,
    interleaved: only the context says which is which."""
    rng = np.random.default_rng(4)
    model = ScoreModel(ModelSettings(kappa=0.0, drift=False, context=("offered_rps",)), dims=1)
    blind = ScoreModel(ModelSettings(kappa=0.0, drift=False), dims=1)
    for i in range(40):
        x, high = float(rng.uniform(-1, 1)), i % 2 == 1
        y = (1.0 if high else 0.0) + float(rng.normal(0, 0.01))
        model.add([x], y, [math.log(300.0 if high else 100.0)])
        blind.add([x], y)
    probe = np.array([[0.0]])
    assert model.optimistic(probe)[0] > 0.8  # the last window was at 300 req/s
    model.add([0.5], 0.0, [math.log(100.0)])
    assert model.optimistic(probe)[0] < 0.2
    assert 0.2 < blind.optimistic(probe)[0] < 0.8
    with pytest.raises(ValueError, match="context"):
        model.add([0.0], 0.0)


def test_a_missing_context_metric_is_an_error_naming_it(gateway_upir: UPIR) -> None:
    st = ModelSettings(enabled=True, context=("offered_rps",))
    assert context_of(st, {"offered_rps": math.e}) == [1.0]
    for bad in ({}, {"offered_rps": 0.0}):
        with pytest.raises(InvalidSpecError, match=r"metrics\.offered_rps"):
            context_of(st, bad)
    learner = ArchitectureLearner(gateway_upir, settings=LearnerSettings(model=st))
    with pytest.raises(InvalidSpecError, match=r"metrics\.offered_rps"):
        learner.learn_from_metrics({"latency_ms": 1.0, "throughput_rps": 1.0, "error_rate": 0.0})
    assert learner.counters["windows"] == 0  # nothing was taken in
    with pytest.raises(InvalidSpecError, match=r"model\.context"):
        ArchitectureLearner(
            gateway_upir, settings=LearnerSettings(model=replace(st, context=("",)))
        )


def test_settings_round_trip_through_json_lists() -> None:
    st = LearnerSettings(model=ModelSettings(enabled=True, context=("offered_rps",)), restart=WATCH)
    data = st.to_dict()
    data["model"]["context"] = list(data["model"]["context"])  # as JSON gives it back
    assert LearnerSettings.from_dict(data) == st


def test_a_checkpoint_from_before_restarts_loads_and_restarts(gateway_upir: UPIR) -> None:
    st = LearnerSettings(restart=WATCH)
    learner = ArchitectureLearner(gateway_upir, seed=1, settings=st)
    params = learner.learn_from_metrics(_metrics(gateway_upir.tunable_values(), 100.0))
    state = torch.load(io.BytesIO(learner.to_bytes()), weights_only=True)
    for key in ("watch", "model"):
        del state[key]
    for key in ("restarts", "imagined"):
        del state["counters"][key]
    blob = io.BytesIO()
    torch.save(state, blob)
    old = ArchitectureLearner.from_bytes(blob.getvalue(), gateway_upir)
    old.learn_from_metrics(_metrics(params, 100.0), params)  # the running mean starts here
    old.learn_from_metrics(_metrics(params, 300.0), params)
    assert old.counters["restarts"] == 1 and old.counters["imagined"] == 0
