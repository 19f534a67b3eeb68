"""Imagined windows: a Gaussian-process model of the score, and PPO updates on
rollouts through it between real windows (Sutton's Dyna).

Why: a live service gives one window per decision, and model-free PPO learns
from each window once. Where the score is flat along a parameter (batch sizes
that never fill under a short flush all score the same), local moves earn no
signal and the policy random-walks across the plateau, while a tuner with a
model of the whole domain (Optuna's TPE) samples beyond it. The model here is
fitted to the windows seen (the tunable positions, in [-1, 1], and the time,
against the window's score) and is optimistic where it has seen little: an imagined
configuration scores ``mean + kappa * std`` (an upper confidence bound). PPO
then learns, between real windows, from short imagined trajectories of moves
scored by that bound, so it is drawn both towards configurations that measured
well and towards ones the service has not shown yet, several moves away. In
imagination the policy acts with some uniform choice mixed in
(``ModelSettings.explore``), and PPO corrects for it through its ratio: a policy
that has all but stopped moving a parameter still imagines moving it, so what
the model promises there can pull the policy out of a local optimum.

Imagined moves are never applied. Imagination masks moves by the domains only
(screening every imagined move with the guardrail would cost hundreds of
solver calls a window); the real proposal that follows is still screened and
checked by the guardrail like any other.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from upir.errors import FieldIssue, InvalidSpecError
from upir.tuning.rl.agent import PPOAgent
from upir.tuning.rl.policy import DOWN, KEEP, UP
from upir.tuning.space import ParameterSpace

__all__ = ["Grid", "ModelSettings", "ScoreModel", "View", "context_of", "imagine"]

_MASKS_KEPT = 65536
_TIME_UNIT = 100.0  # windows per unit of the model's time input

View = Callable[[Sequence[float], torch.Tensor, Sequence[int], float], torch.Tensor]
"""``view(positions, mask, last_moves, last_gain) -> obs``: the learner's
observation of an imagined state (positions and domain mask of its parameters,
the moves that led there and their imagined reward)."""


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The score model and the imagined rollouts (see :mod:`upir.tuning.imagination`)."""

    enabled: bool = False
    """Learn from imagined rollouts between windows. Off in a bare
    ``LearnerSettings``; :meth:`upir.tuning.settings.TuningSettings.learner_for`
    turns it on, with the observed load as ``context`` and a restart at a jump,
    wherever a load is observed (``TuningSettings.model``, auto by default). On
    the tuning benchmark that configuration tuned better than guarded Optuna in
    all four scenarios on both seed sets (docs/benchmarks.md, "Tuning");
    without context and restart (and before ``explore``) it tuned much worse
    after a load shift that saturated the configuration it had found. Every
    window then costs a model fit and an imagined PPO update (about 13 s per
    100 windows against 3-4 s)."""
    kappa: float = 1.0
    """Optimism: an imagined configuration scores mean + ``kappa`` standard
    deviations of the model (score units; 0 trusts the mean alone)."""
    rollouts: int = 8
    """Imagined trajectories per real window."""
    horizon: int = 8
    """Moves per imagined trajectory (decision windows)."""
    updates: int = 1
    """PPO updates on fresh imagined rollouts per real window."""
    explore: float = 0.2
    """Share of uniform choice mixed into the policy when it acts in imagination
    (each parameter's move; in [0, 1]; default 0.2), with PPO's ratio taken
    against that mixture. Imagination costs the service nothing, so it can try
    the moves a confident policy no longer takes: sampled from the policy
    alone, imagined rollouts only ever replay what the policy already does, and
    the model's optimism about configurations off that path never reaches the
    policy (on the tuning benchmark's tuning seeds, a run stuck with 2 worker
    slots a replica and batches of 25-32 for its last 88 windows). The
    imagined updates' ``approx_kl`` and ``clipfrac`` are then measured against
    the mixture."""
    min_windows: int = 8
    """Real windows measured before the model is used (fewer fit noise)."""
    max_points: int = 200
    """The most recent windows the model is fitted to: bounds the fit's cost
    (cubic in the points) and lets it forget a service that has changed."""
    drift: bool = True
    """Give the model each window's time as an input too (in units of 100
    windows, with its own learned length scale): when the load or the service
    changes, old windows then say less about now, and imagination follows the
    service as it is rather than as it was."""
    context: tuple[str, ...] = ()
    """Metrics given to the model as inputs too (their logarithms; each with its
    own length scale), e.g. ``("offered_rps",)``: the model then tells a
    configuration's score at one load from its score at another, and imagines
    at the load of the latest window. A window without them is an error."""
    refit_every: int = 8
    """Windows between optimisations of the model's hyperparameters (length
    scales, noise); in between, the model takes in new windows with the last
    hyperparameters, one factorisation instead of an optimisation (the
    optimisation was most of imagination's cost)."""
    reward_clip: float = 1.0
    """Imagined rewards (changes of the bound) are clipped to +-this (score units)."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every setting out of range."""
        out: list[tuple[str, str]] = []
        if not (math.isfinite(self.kappa) and self.kappa >= 0):
            out.append(("model.kappa", "must be a finite number >= 0"))
        for name in ("rollouts", "horizon", "updates", "min_windows", "refit_every"):
            if int(getattr(self, name)) < 1:
                out.append((f"model.{name}", "must be >= 1"))
        if not (math.isfinite(self.explore) and 0 <= self.explore <= 1):
            out.append(("model.explore", "must be in [0, 1]"))
        if self.max_points < 2:
            out.append(("model.max_points", "must be >= 2"))
        if any(not (isinstance(c, str) and c) for c in self.context):
            out.append(("model.context", "must be metric names"))
        if not (math.isfinite(self.reward_clip) and self.reward_clip > 0):
            out.append(("model.reward_clip", "must be a finite number > 0"))
        return out


def context_of(settings: ModelSettings, metrics: Mapping[str, float]) -> list[float]:
    """The logs of the model's context metrics in one window; a missing or
    non-positive one is an :class:`InvalidSpecError` naming it."""
    out = []
    for name in settings.context:
        v = metrics.get(name)
        if v is None or not math.isfinite(v) or v <= 0:
            issue = FieldIssue(f"metrics.{name}", "a model context metric: must be a number > 0")
            raise InvalidSpecError([issue])
        out.append(math.log(v))
    return out


class ScoreModel:
    """Windows seen (tunable positions -> score) and a Gaussian process fitted to them.

    The kernel is a Matern 5/2 with one length scale per parameter (so a
    parameter that does not matter gets a long scale) and, with ``drift``, one
    for time, plus white noise (one
    window's score is noisy); targets are normalised. Hyperparameters are
    optimised every ``refit_every`` fits and kept (and checkpointed) in
    between; fits are deterministic (``random_state`` fixed, no restarts)."""

    def __init__(self, settings: ModelSettings, dims: int) -> None:
        self.settings = settings
        self.dims = dims
        self._x: deque[tuple[float, ...]] = deque(maxlen=settings.max_points)
        self._y: deque[float] = deque(maxlen=settings.max_points)
        self._gp: GaussianProcessRegressor | None = None
        self._theta: list[float] | None = None  # the last optimised log-hyperparameters
        self._fits = 0  # fits since they were optimised
        self._t = 0  # windows added (the time input, when drift is modelled)
        self._width = dims + 1 + len(settings.context)  # positions, time, context

    def __len__(self) -> int:
        return len(self._y)

    def add(self, x: Sequence[float], y: float, context: Sequence[float] = ()) -> None:
        """Record one window (``context``: the logs of the context metrics); a
        non-finite score is not a measurement and is skipped."""
        if len(x) != self.dims:
            raise ValueError(f"expected {self.dims} positions, got {len(x)}")
        if len(context) != len(self.settings.context):
            raise ValueError(f"expected {len(self.settings.context)} context values")
        row = (*(float(v) for v in x), self._t / _TIME_UNIT, *(float(c) for c in context))
        if math.isfinite(y) and all(math.isfinite(v) for v in row):
            self._x.append(row)
            self._y.append(float(y))
        self._t += 1
        self._gp = None

    def clear(self) -> None:
        """Forget every window and the hyperparameters (the time input runs on)."""
        self._x.clear()
        self._y.clear()
        self._gp, self._theta, self._fits = None, None, 0

    def fit(self) -> None:
        """Fit the windows recorded; optimise the hyperparameters when due."""
        kernel = ConstantKernel(1.0, (1e-3, 1e2)) * Matern(
            length_scale=np.ones(self._inputs), length_scale_bounds=(0.05, 20.0), nu=2.5
        ) + WhiteKernel(0.01, (1e-5, 1.0))
        optimise = self._theta is None or self._fits >= self.settings.refit_every
        if not optimise:
            kernel = kernel.clone_with_theta(np.asarray(self._theta))
        gp = GaussianProcessRegressor(
            kernel,
            normalize_y=True,
            optimizer="fmin_l_bfgs_b" if optimise else None,
            n_restarts_optimizer=0,
            random_state=0,
        )
        with warnings.catch_warnings():
            # a length scale at its bound is an answer here (the parameter does
            # not matter), not a problem to report every window
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(self._design(np.asarray(self._x)), np.asarray(self._y))
        self._gp = gp
        if optimise:
            self._theta, self._fits = [float(t) for t in gp.kernel_.theta], 0
        self._fits += 1

    @property
    def _inputs(self) -> int:
        return self._width - (0 if self.settings.drift else 1)

    def _design(self, x: np.ndarray) -> np.ndarray:
        """Rows of positions, time and context -> the model's inputs (time
        dropped without drift)."""
        return x if self.settings.drift else np.delete(x, self.dims, axis=1)

    def optimistic(self, x: np.ndarray) -> np.ndarray:
        """mean + kappa * std at each row of positions ``x``, now (at the latest
        window's time and context; fits first when needed)."""
        if len(self) == 0:
            raise ValueError("the score model has no windows yet")
        if self._gp is None:
            self.fit()
        assert self._gp is not None
        now = np.tile(np.asarray(self._x[-1][self.dims :]), (len(x), 1))
        mean, std = self._gp.predict(self._design(np.hstack([x, now])), return_std=True)
        return np.asarray(mean + self.settings.kappa * std, dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {
            "x": [list(p) for p in self._x],
            "y": list(self._y),
            "theta": self._theta,
            "fits": self._fits,
            "t": self._t,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        xs, ys = list(state.get("x", [])), list(state.get("y", []))
        if len(xs) != len(ys):
            raise ValueError("score model state: x and y differ in length")
        self._x.clear()
        self._y.clear()
        self._gp = None
        for x, y in zip(xs, ys, strict=True):
            row = tuple(float(v) for v in x)
            if len(row) != self._width:
                raise ValueError("score model state: rows of another shape")
            self._x.append(row)
            self._y.append(float(y))
        self._t = int(state.get("t", len(self._y)))
        theta = state.get("theta")
        if theta is not None and len(theta) != self._inputs + 2:
            raise ValueError("score model state: hyperparameters of another shape")
        self._theta = None if theta is None else [float(t) for t in theta]
        self._fits = int(state.get("fits", 0))


class Grid:
    """The moves of a :class:`ParameterSpace` on interned values, for imagining.

    Imagined trajectories make thousands of moves a window; exact rational moves
    and hashing of ``Fraction`` values dominated their cost. Here each
    parameter's values get small integer ids, and moves, positions and masks
    are memoised per id, so a state is a tuple of ints. Keep one per learner:
    the tables only grow with the values imagination reaches."""

    def __init__(self, space: ParameterSpace) -> None:
        self.space = space
        n = len(space.axes)
        self._ids: list[dict[Fraction, int]] = [{} for _ in range(n)]
        self._values: list[list[Fraction]] = [[] for _ in range(n)]
        self._pos: list[list[float]] = [[] for _ in range(n)]
        self._moves: list[dict[tuple[int, int], int]] = [{} for _ in range(n)]
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}

    def _intern(self, h: int, value: Fraction) -> int:
        i = self._ids[h].get(value)
        if i is None:
            i = self._ids[h][value] = len(self._values[h])
            self._values[h].append(value)
            self._pos[h].append(self.space.axes[h].position(value))
        return i

    def state(self, params: Mapping[str, Fraction]) -> tuple[int, ...]:
        values = self.space.values_of(params)
        return tuple(self._intern(h, v) for h, v in enumerate(values))

    def positions(self, state: tuple[int, ...]) -> list[float]:
        return [self._pos[h][i] for h, i in enumerate(state)]

    def _move(self, h: int, i: int, action: int) -> int:
        """The id after ``action`` from value id ``i`` of parameter ``h`` (-1: impossible)."""
        key = (i, action)
        j = self._moves[h].get(key)
        if j is None:
            axis = self.space.axes[h]
            moved = axis.moved(self._values[h][i], action, self.space.fraction)
            j = self._moves[h][key] = -1 if moved is None else self._intern(h, moved)
        return j

    def mask(self, state: tuple[int, ...]) -> torch.Tensor:
        """(n, 3) moves inside the domains, as :meth:`ParameterSpace.mask`."""
        m = self._masks.get(state)
        if m is None:
            m = torch.ones(len(state), 3, dtype=torch.bool)
            for h, i in enumerate(state):
                m[h, DOWN] = self._move(h, i, DOWN) >= 0
                m[h, UP] = self._move(h, i, UP) >= 0
            if len(self._masks) >= _MASKS_KEPT:
                self._masks.clear()  # a long run visits many joint states: bound the memo
            self._masks[state] = m
        return m

    def step(self, state: tuple[int, ...], action: Sequence[int]) -> tuple[int, ...]:
        out = tuple(
            i if a == KEEP else self._move(h, i, a)
            for h, (i, a) in enumerate(zip(state, action, strict=True))
        )
        if min(out) < 0:
            raise ValueError("a masked move was taken")
        return out


def imagine(
    agent: PPOAgent,
    model: ScoreModel,
    space: ParameterSpace,
    start: Mapping[str, Fraction],
    last_moves: Sequence[int],
    last_gain: float,
    view: View,
    grid: Grid | None = None,
) -> dict[str, float]:
    """``model.settings.updates`` PPO updates, each on ``rollouts`` imagined
    trajectories of ``horizon`` moves from ``start``; returns the last update's
    diagnostics. A move's imagined reward is the change of the model's
    optimistic score it causes (the learner's improvement reward, imagined);
    the last move of each trajectory is truncated (bootstrapped by the critic).
    ``grid``: the learner's :class:`Grid` for ``space`` (a fresh one without).
    Returns ``{}`` without updating when the model cannot be fitted."""
    st = model.settings
    try:
        model.fit()
    except np.linalg.LinAlgError:
        # the kernel matrix was not positive definite in floating point: skip
        # imagining this window rather than fail the real tuning step
        return {}
    grid = grid if grid is not None else Grid(space)
    first = grid.state(start)
    diagnostics: dict[str, float] = {}
    for _ in range(st.updates):
        buffer = agent.new_buffer(num_envs=st.rollouts, num_steps=st.horizon)
        states = [first] * st.rollouts
        moves = [list(last_moves) for _ in range(st.rollouts)]
        gains = [float(last_gain)] * st.rollouts
        pos = [grid.positions(first)] * st.rollouts
        masks = [grid.mask(first)] * st.rollouts
        obs = torch.stack([view(*z) for z in zip(pos, masks, moves, gains, strict=True)])
        bound = model.optimistic(np.asarray(pos))
        for t in range(st.horizon):
            mask = torch.stack(masks)
            action, logprob, value = agent.act(obs, mask, explore=st.explore)
            rows = action.tolist()
            states = [grid.step(s, row) for s, row in zip(states, rows, strict=True)]
            moves = [[a - 1 for a in row] for row in rows]
            pos = [grid.positions(s) for s in states]
            masks = [grid.mask(s) for s in states]
            after = model.optimistic(np.asarray(pos))
            gains = [max(-st.reward_clip, min(st.reward_clip, float(d))) for d in after - bound]
            nxt = torch.stack([view(*z) for z in zip(pos, masks, moves, gains, strict=True)])
            last = t == st.horizon - 1
            buffer.add(obs, mask, action, logprob, value, gains, nxt, False, last)
            obs, bound = nxt, after
        diagnostics = agent.update(buffer)
    return diagnostics
