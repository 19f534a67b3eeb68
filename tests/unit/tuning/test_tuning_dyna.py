"""The score model and imagined (Dyna) rollouts: the Gaussian process is
optimistic where it has seen little, PPO learns from imagination alone, and the
learner keeps the model's windows across a checkpoint."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction as F
from typing import Any

import numpy as np
import pytest
import torch

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.tuning.imagination import Grid, ModelSettings, ScoreModel, imagine
from upir.tuning.learner import LEARNER_CONFIG, ArchitectureLearner, LearnerSettings
from upir.tuning.rl.agent import PPOAgent
from upir.tuning.rl.policy import DOWN, KEEP, UP
from upir.tuning.space import ParameterSpace


def test_model_is_optimistic_where_it_has_seen_little() -> None:
    model = ScoreModel(ModelSettings(kappa=2.0), dims=2)
    rng = np.random.default_rng(0)
    for x in rng.uniform(-1.0, 0.0, size=(30, 2)):  # only the lower-left quarter seen
        model.add(list(x), float(x[0] + x[1]) + float(rng.normal(0, 0.01)))
    seen, unseen = np.array([[-0.5, -0.5]]), np.array([[0.9, 0.9]])
    assert model.optimistic(unseen)[0] > model.optimistic(seen)[0]
    plain = ScoreModel(ModelSettings(kappa=0.0), dims=2)
    plain.load_state(model.state())
    # with kappa 0 the bound is the mean, which fits the seen data closely
    assert abs(plain.optimistic(seen)[0] - (-1.0)) < 0.1
    assert plain.optimistic(seen)[0] < model.optimistic(seen)[0]


def test_model_skips_non_finite_keeps_the_latest_and_round_trips() -> None:
    model = ScoreModel(ModelSettings(max_points=5), dims=1)
    with pytest.raises(ValueError, match="no windows"):
        model.optimistic(np.zeros((1, 1)))
    model.add([0.1], math.nan)
    model.add([math.inf], 1.0)
    assert len(model) == 0
    for i in range(8):
        model.add([i / 10], float(i))
    assert len(model) == 5 and model.state()["y"] == [3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(ValueError, match="positions"):
        model.add([0.1, 0.2], 1.0)
    copy = ScoreModel(ModelSettings(max_points=5), dims=1)
    copy.load_state(model.state())
    x = np.linspace(-1, 1, 7).reshape(-1, 1)
    assert np.array_equal(copy.optimistic(x), model.optimistic(x))  # fits are deterministic


def _view(pos: Any, mask: torch.Tensor, moves: Any, gain: float) -> torch.Tensor:
    """A small observation of an imagined state: the reward, then per parameter
    its position, last move, move x reward, and whether it can go down / up."""
    vec = [gain]
    for h, x in enumerate(pos):
        vec += [x, float(moves[h]), moves[h] * gain, 0.0, float(mask[h, 0]), float(mask[h, 2])]
    return torch.tensor(vec, dtype=torch.float32)


def _more_replicas_score_better(settings: ModelSettings, space: ParameterSpace) -> ScoreModel:
    """A model fitted to windows whose score is log(replicas), whatever the retries."""
    model = ScoreModel(settings, dims=2)
    for r in (0, 1, 2, 3):
        for n in (1, 2, 4, 8, 16):
            model.add(
                space.encode({"gateway.retries": F(r), "gateway.replicas": F(n)}), math.log(n)
            )
    return model


def test_ppo_learns_from_imagined_rollouts_alone(gateway_upir: UPIR) -> None:
    """A model that says more replicas score better, and nothing about retries:
    imagined updates alone make UP on replicas likely."""
    space = ParameterSpace(gateway_upir)
    settings = ModelSettings(kappa=0.0, rollouts=8, horizon=4)
    model = _more_replicas_score_better(settings, space)
    agent = PPOAgent(2 * 6 + 1, space.action_dims, replace(LEARNER_CONFIG, hidden_sizes=(16,)), 0)
    start = gateway_upir.tunable_values()

    obs = _view(space.encode(start), space.mask(start), [0, 0], 0.0)
    before = agent.probabilities(obs.unsqueeze(0))[0]
    for _ in range(15):
        diag = imagine(agent, model, space, start, [0, 0], 0.0, _view)
    after = agent.probabilities(obs.unsqueeze(0))[0]
    assert diag["samples"] == 32.0
    assert after[1, UP] > 0.6 > before[1, UP]  # replicas: up
    assert after[1, UP] > after[1, DOWN] * 4
    # `updates` PPO updates a window, each on fresh rollouts
    done = agent.updates_done
    twice = replace(settings, updates=2)
    model.settings = twice
    assert imagine(agent, model, space, start, [0, 0], 0.0, _view)["samples"] == 32.0
    assert agent.updates_done == done + 2


@pytest.mark.parametrize("explore", [0.0, 0.2])
def test_imagination_explores_moves_a_confident_policy_has_ruled_out(
    gateway_upir: UPIR, explore: float
) -> None:
    """A policy all but certain to keep replicas as they are (P(UP) = 3e-4) and
    a model that says more replicas score better: imagining with the policy
    alone never tries UP and learns nothing; with some uniform choice mixed in
    (and PPO's ratio against that mixture) UP becomes the likely move."""
    space = ParameterSpace(gateway_upir)
    settings = ModelSettings(kappa=0.0, rollouts=8, horizon=4, explore=explore)
    model = _more_replicas_score_better(settings, space)
    agent = PPOAgent(2 * 6 + 1, space.action_dims, replace(LEARNER_CONFIG, hidden_sizes=(16,)), 0)
    last = agent.net.actor[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():  # KEEP's logit 8 above the others, whatever the observation
        last.weight.zero_()
        bias = torch.zeros(2, 3)
        bias[:, KEEP] = 8.0
        last.bias.copy_(bias.flatten())
    start = gateway_upir.tunable_values()

    obs = _view(space.encode(start), space.mask(start), [0, 0], 0.0).unsqueeze(0)
    assert agent.probabilities(obs)[0, 1, UP] < 1e-3
    for _ in range(15):
        imagine(agent, model, space, start, [0, 0], 0.0, _view)
    up = float(agent.probabilities(obs)[0, 1, UP])
    if explore:
        assert up > 0.9  # measured 0.989
    else:
        assert up < 0.01  # measured 0.0007: never sampled, never learnt


def test_learner_imagines_after_enough_windows_and_keeps_the_model_in_checkpoints(
    gateway_upir: UPIR,
) -> None:
    st = LearnerSettings(model=ModelSettings(enabled=True, min_windows=3, rollouts=2, horizon=2))
    cfg = replace(LEARNER_CONFIG, num_steps=4, hidden_sizes=(8,))
    a = ArchitectureLearner(gateway_upir, config=cfg, seed=5, settings=st)
    params = gateway_upir.tunable_values()

    def metrics(p: dict[str, F]) -> dict[str, float]:
        return {
            "latency_ms": 100.0 / float(p["gateway.replicas"]),
            "throughput_rps": 50.0,
            "error_rate": 0.0,
        }

    for _ in range(2):
        params = a.learn_from_metrics(metrics(params), params)
    assert a.counters["imagined"] == 0 and len(a.model) == 2
    params = a.learn_from_metrics(metrics(params), params)
    assert a.counters["imagined"] == 1 and a.stats()["lastImagined"]["samples"] == 4.0
    b = ArchitectureLearner.from_bytes(a.to_bytes(), gateway_upir)
    assert b.model.state() == a.model.state() and b.settings.model == st.model
    pa, pb = params, params
    for _ in range(5):
        pa = a.learn_from_metrics(metrics(pa), pa)
        pb = b.learn_from_metrics(metrics(pb), pb)
        assert pa == pb
    off = ArchitectureLearner(
        gateway_upir,
        config=cfg,
        seed=5,
        settings=LearnerSettings(model=ModelSettings(enabled=False)),
    )
    for _ in range(4):
        off.learn_from_metrics(metrics(params), params)
    assert off.counters["imagined"] == 0 and len(off.model) == 0


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (ModelSettings(kappa=-1.0), "model.kappa"),
        (ModelSettings(kappa=math.nan), "model.kappa"),
        (ModelSettings(rollouts=0), "model.rollouts"),
        (ModelSettings(horizon=0), "model.horizon"),
        (ModelSettings(max_points=1), "model.max_points"),
        (ModelSettings(reward_clip=0.0), "model.reward_clip"),
        (ModelSettings(explore=-0.1), "model.explore"),
        (ModelSettings(explore=1.5), "model.explore"),
        (ModelSettings(explore=math.nan), "model.explore"),
    ],
)
def test_bad_model_settings_name_the_field(
    gateway_upir: UPIR, model: ModelSettings, field: str
) -> None:
    with pytest.raises(InvalidSpecError) as err:
        ArchitectureLearner(gateway_upir, settings=LearnerSettings(model=model))
    assert field in str(err.value)


def test_grid_moves_exactly_like_the_parameter_space(make_upir: Callable[..., UPIR]) -> None:
    gateway = {"name": "gateway", "type": "service", "params": {"retries": 1, "replicas": 4}}
    upir = make_upir(
        [gateway],
        parameters=[
            {"name": "gateway.retries", "min": 0, "max": 3},
            {"name": "gateway.replicas", "min": 1, "max": 16},
            {"name": "gateway.timeout_ms", "min": 1.5, "max": 40},  # continuous
        ],
    )
    space = ParameterSpace(upir)
    grid = Grid(space)
    rng = np.random.default_rng(1)
    params = {"gateway.retries": F(1), "gateway.replicas": F(4), "gateway.timeout_ms": F(7, 2)}
    state = grid.state(params)
    for _ in range(400):
        assert grid.positions(state) == space.encode(params)
        mask = grid.mask(state)
        assert torch.equal(mask, space.mask(params))
        allowed = [np.flatnonzero(row.numpy()) for row in mask]
        action = [int(rng.choice(a)) for a in allowed]
        params = space.decode(params, action)
        state = grid.step(state, action)
        assert grid.state(params) == state
    with pytest.raises(ValueError, match="masked"):
        grid.step(grid.state({**params, "gateway.retries": F(3)}), [UP, 1, 1])


def test_hyperparameters_are_optimised_every_refit_every_fits_and_kept_between() -> None:
    model = ScoreModel(ModelSettings(refit_every=3), dims=1)
    rng = np.random.default_rng(2)
    thetas = []
    for i in range(7):
        for _ in range(4):  # new windows change the optimum of the hyperparameters
            x = float(rng.uniform(-1, 1))
            model.add([x], math.sin(3 * x * (1 + i)) + float(rng.normal(0, 0.05)))
        model.fit()
        thetas.append(model.state()["theta"])
    assert [model.state()["fits"]] == [1]  # fit 7 optimised (fits 1, 4 and 7 do)
    assert thetas[0] == thetas[1] == thetas[2] != thetas[3]
    assert thetas[3] == thetas[4] == thetas[5] != thetas[6]
    bad = {**model.state(), "theta": [0.0]}
    with pytest.raises(ValueError, match="shape"):
        ScoreModel(ModelSettings(), dims=1).load_state(bad)


def test_a_model_that_cannot_be_fitted_skips_imagining(
    gateway_upir: UPIR, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = ParameterSpace(gateway_upir)
    model = ScoreModel(ModelSettings(), dims=2)
    model.add([0.0, 0.0], 1.0)

    def singular(*args: Any, **kwargs: Any) -> None:
        raise np.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(ScoreModel, "fit", singular)
    agent = PPOAgent(13, space.action_dims, replace(LEARNER_CONFIG, hidden_sizes=(8,)), 0)
    before = [p.clone() for p in agent.net.parameters()]

    def view(pos: Any, mask: torch.Tensor, moves: Any, gain: float) -> torch.Tensor:
        raise AssertionError("nothing is imagined")

    assert imagine(agent, model, space, gateway_upir.tunable_values(), [0, 0], 0.0, view) == {}
    assert all(torch.equal(a, b) for a, b in zip(before, agent.net.parameters(), strict=True))


def test_with_drift_the_model_follows_the_latest_windows() -> None:
    """The service changed half-way: the same configurations scored 0, now 1."""
    rng = np.random.default_rng(3)
    xs = rng.uniform(-1, 1, size=(40, 1))
    models = {d: ScoreModel(ModelSettings(kappa=0.0, drift=d), dims=1) for d in (True, False)}
    for i, x in enumerate(xs):
        for m in models.values():
            m.add(list(x), (0.0 if i < 20 else 1.0) + float(rng.normal(0, 0.01)))
    probe = np.array([[0.0]])
    assert models[True].optimistic(probe)[0] > 0.8
    assert 0.2 < models[False].optimistic(probe)[0] < 0.8  # averages the two regimes
    assert len(models[True].state()["theta"]) == 4 and len(models[False].state()["theta"]) == 3


def test_learner_keeps_tuning_when_its_model_cannot_be_fitted(
    gateway_upir: UPIR,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def singular(*args: Any, **kwargs: Any) -> None:
        raise np.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(ScoreModel, "fit", singular)
    st = LearnerSettings(model=ModelSettings(enabled=True, min_windows=1))
    learner = ArchitectureLearner(gateway_upir, seed=0, settings=st)
    params = gateway_upir.tunable_values()
    for _ in range(3):
        params = learner.learn_from_metrics(
            {"latency_ms": 50.0, "throughput_rps": 10.0, "error_rate": 0.0}, params
        )
    assert learner.counters["windows"] == 3 and learner.counters["imagined"] == 0
    assert learner.stats()["lastImagined"] == {}
