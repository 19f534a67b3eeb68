"""``ArchitectureLearner``: online PPO tuning of one UPIR's parameters.

One call per decision window::

    learner = ArchitectureLearner(upir, seed=0)
    learner = ArchitectureLearner(upir, seed=0, guardrail=guardrail)  # screens moves
    proposal = learner.learn_from_metrics(metrics, current)   # every interval
    decision = guardrail.check(proposal)
    if decision.proved:
        apply(proposal)
    else:
        learner.record_rejection(proposal, decision)          # parameters stay
    blob = learner.to_bytes()                                 # persist
    learner = ArchitectureLearner.from_bytes(blob, upir)      # after a restart

``metrics`` are one window's figures (``latency_ms`` (p99), ``throughput_rps``
and ``error_rate`` at least; anything else the objective weighs, and optionally
``drop_rate`` and ``cost``); ``current`` the tunable parameters in force while the
window was measured (None: the learner's own record).

Credit assignment: the window measured after a proposal was applied is the
consequence of that proposal, so :meth:`learn_from_metrics` first records the
*pending* action with *this* window's reward, then proposes the next one. A
proposal that was not applied (``current`` still shows the values it was made
from: the operator held, is in Recommend mode, or rolled back) is dropped
rather than credited with a window it did not cause. A rejected proposal is
recorded at once (:meth:`record_rejection`): the parameters did not change, so
its consequence is this window's reward minus a penalty; the caller may then ask
:meth:`propose` for another candidate in the same window.

State (all in [-3, 3]), global part: each objective metric, relative to the
first window (log-ratio) or as a share; the change of each since the previous
window; the slack of every constraint a metric measures; the number of
rejections in this window; the reward of the last applied move. Then, per
tunable parameter: its position in its domain; its last applied move (-1, 0,
+1) and that move times the reward it earned; its last rejected move; whether
it can go down and up.

With ``LearnerSettings.model.enabled`` (off in a bare ``LearnerSettings``; on
where a load is observed, ``TuningSettings.learner_for``) the learner also learns
between windows from imagined ones (Dyna): a Gaussian process fitted to the
windows' configurations and scores, optimistic where it has seen little, scores
short imagined trajectories of moves, and PPO updates on them
(:mod:`upir.tuning.imagination`). Imagined moves are never proposed; the proposal
still comes from the screened policy.

With ``LearnerSettings.restart.metric`` set (likewise), a jump in that
load metric sends the policy back to its first weights and, by default, empties
the score model (:mod:`upir.tuning.restart`): what was learnt under the old
load stops steering the search under the new one.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import torch

from upir.core.numbers import Number
from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError
from upir.tuning.checkpoint import (
    BUFFER_FIELDS,
    Pending,
    floats_of,
    fractions_of,
    parse_values,
    rejection_record,
    same_values,
    strings_of,
)
from upir.tuning.imagination import Grid, ScoreModel, context_of, imagine
from upir.tuning.objective import TuningObjective
from upir.tuning.restart import LoadWatch
from upir.tuning.rl.agent import CheckpointError, PPOAgent
from upir.tuning.rl.policy import DOWN, UP
from upir.tuning.rl.ppo import PPOConfig
from upir.tuning.rl.shared import tuner_agent
from upir.tuning.settings import LearnerSettings, TuningSettings
from upir.tuning.space import ParameterSpace
from upir.verification.guardrail import Guardrail, GuardrailDecision
from upir.verification.results import VerificationReport

__all__ = ["HEAD_FEATURES", "LEARNER_CONFIG", "ArchitectureLearner", "LearnerSettings"]

LEARNER_FORMAT = "upir.learner/1"

HEAD_FEATURES = 6
"""Features per tunable parameter in the observation (see the module docstring)."""

LEARNER_CONFIG = PPOConfig(
    learning_rate=1e-2,
    gamma=0.5,
    gae_lambda=0.9,
    num_steps=8,
    update_epochs=8,
    num_minibatches=2,
    ent_coef=0.005,
    hidden_sizes=(32, 32),
)
"""PPO settings for tuning a live service: a decision is one window (minutes of
production time), so rollouts are short (8 windows), each is reused for 8
epochs with a large step size (1e-2), and the horizon is short (gamma 0.5: a
move's reward is already the change it caused, so only the next window or two
should add to its credit; longer horizons mix in the noise of later moves).
The rest was chosen on the tuning benchmark's steady scenario (5 seeds, 100
windows) among learning rates 1e-3..3e-2, rollouts of 4, 8 and 16, initial
KEEP 0.5..0.89 and both policies. gamma 0.5 replaced 0.9 after a comparison
with rollback on seeds the benchmark does not report (10-29, steady and shift):
the best in-spec configuration's share of the proved limit rose from 0.84 to
0.89 and from 0.80 to 0.85 on the two halves; gamma 0.3, 0 and other learning
rates and entropy bonuses were not better."""


class ArchitectureLearner:
    """PPO over DOWN/KEEP/UP moves of a UPIR's tunable parameters.

    Args:
        upir: the resource (tunable domains, ``maxStepFraction``, objective,
            constraints); its current tunable values are the starting point.
        config: PPO hyperparameters (default :data:`LEARNER_CONFIG`).
        seed: seeds the network's initialisation and the action sampling.
        settings: reward shaping and initial caution.
        guardrail: when given (and ``settings.screen_moves``), each
            single-parameter move is screened with it before the policy samples:
            unproved moves are masked like moves out of the domain. Not part of
            a checkpoint: pass it again to :meth:`from_bytes`.
    """

    def __init__(
        self,
        upir: UPIR,
        *,
        config: PPOConfig | None = None,
        seed: int = 0,
        settings: LearnerSettings | None = None,
        guardrail: Guardrail | None = None,
    ) -> None:
        self.upir = upir
        self.guardrail = guardrail
        self.settings = settings if settings is not None else LearnerSettings()
        self.space = ParameterSpace(upir)
        self.objective = TuningObjective(upir, self.settings.weights)
        self.metric_names = self.objective.metric_names()
        self.constraint_keys = tuple(sorted(self.objective.bounds))
        n, m, c = len(self.space), len(self.metric_names), len(self.constraint_keys)
        self.global_dim = 2 * m + c + 2
        self.obs_dim = self.global_dim + n * HEAD_FEATURES
        self._check_settings()
        self.agent = self._new_agent(config or LEARNER_CONFIG, seed)
        self.buffer = self.agent.new_buffer(num_envs=1)
        self.model = ScoreModel(self.settings.model, n)
        """Every window's tunable positions and score, for imagined rollouts."""
        self._grid = Grid(self.space)
        self.watch = LoadWatch(self.settings.restart)
        """The load metric's running mean, for restarts at a jump."""
        self.params: dict[str, Fraction] = upir.tunable_values()
        """The tunable values the learner believes are in force."""
        self.metrics: dict[str, float] | None = None
        """The last window's metrics (completed), None before the first."""
        self._prev_metrics: dict[str, float] | None = None
        self._pending: Pending | None = None
        self._rejections_now = 0
        self._last_move = [0] * n
        self._last_rejected = [0] * n
        self._last_gain = 0.0
        self.counters: dict[str, int] = {
            "windows": 0,
            "proposals": 0,
            "transitions": 0,
            "updates": 0,
            "rejections": 0,
            "dropped": 0,
            "imagined": 0,
            "restarts": 0,
        }
        self.last_reward: float | None = None
        self.last_update: dict[str, float] = {}
        self.last_imagined: dict[str, float] = {}
        self.rejections: deque[dict[str, Any]] = deque(maxlen=self.settings.history)

    # -- the tuning step ---------------------------------------------------------------
    def learn_from_metrics(
        self,
        metrics: Mapping[str, float],
        current: Mapping[str, Fraction | Number] | None = None,
        *,
        deterministic: bool = False,
    ) -> dict[str, Fraction]:
        """Learn from one window, then propose the next tunable values.

        Records the pending proposal's transition with this window's reward
        (when it was applied), updates PPO when the rollout is full, and
        returns every tunable parameter's proposed value (equal to ``current``
        when the policy keeps everything). Raises :class:`InvalidSpecError`
        when a required metric is missing or not finite, or ``current`` lacks a
        tunable parameter.
        """
        now = self._current(current)
        m = self.objective.complete(metrics, now)
        reward = self.objective.score(m, now)
        context = context_of(self.settings.model, m) if self.settings.model.enabled else []
        if self.watch.jumped(m):
            self._restart()
        self._prev_metrics, self.metrics = self.metrics, m
        self._rejections_now = 0
        self.counters["windows"] += 1
        self.last_reward = reward
        pending, self._pending = self._pending, None
        if self.settings.model.enabled:
            # Imagine before crediting the pending move, so that an update on
            # real windows, when due, comes after it: real data has the last
            # word before the next proposal (the other order tuned worse).
            self.model.add(self.space.encode(now), reward, context)
            if len(self.model) >= self.settings.model.min_windows:
                self._imagine(now)
        if pending is not None:
            if same_values(now, pending.proposal):
                gain = self._reward(reward, pending)
                self._last_move = [int(a) - 1 for a in pending.action.tolist()]
                self._last_gain = max(-1.0, min(1.0, gain))
                if any(self._last_move):
                    self._last_rejected = [0] * len(self._last_move)
                obs = self._observe(now)
                self._add(pending, gain, obs)
            else:
                # Not applied (held, Recommend mode, rolled back, changed by hand):
                # this window is not its consequence. Cut the advantage recursion.
                self.counters["dropped"] += 1
                self._cut()
        self.params = now
        return self._propose(self._observe(now), deterministic)

    def propose(
        self,
        metrics: Mapping[str, float] | None = None,
        current: Mapping[str, Fraction | Number] | None = None,
        *,
        deterministic: bool = False,
    ) -> dict[str, Fraction]:
        """A proposal for the current state without learning from a window.

        With ``metrics`` the learner takes them as the latest window (any pending
        proposal is dropped, not credited); without, it reuses the last window's
        (e.g. another candidate after a rejection). ``deterministic`` takes each
        parameter's most likely move (evaluation)."""
        if metrics is not None:
            now = self._current(current)
            m = self.objective.complete(metrics, now)
            self.objective.score(m, now)  # fixes the baseline on a first window
            self._prev_metrics, self.metrics = self.metrics, m
            self.params = now
            self._rejections_now = 0
        elif current is not None:
            self.params = self._current(current)
        if self.metrics is None:
            raise InvalidSpecError([FieldIssue("metrics", "no window of metrics seen yet")])
        if self._pending is not None:
            self._pending = None
            self.counters["dropped"] += 1
            self._cut()
        return self._propose(self._observe(self.params), deterministic)

    def record_rejection(
        self,
        proposal: Mapping[str, Fraction | Number],
        outcome: GuardrailDecision | VerificationReport | None = None,
    ) -> None:
        """The guardrail did not prove ``proposal``: the parameters stay.

        When it is the pending proposal, its transition is recorded now with the
        last window's reward minus the rejection penalty (the parameters did not
        change, so that window is what the move led to). The rejection is kept
        with the first counterexample for reports."""
        values = fractions_of(proposal)
        self.counters["rejections"] += 1
        self.rejections.append(rejection_record(values, outcome, self.counters["windows"]))
        pending = self._pending
        if pending is None or not same_values(values, pending.proposal) or self.metrics is None:
            return
        self._pending = None
        self._rejections_now += 1
        self._last_rejected = [int(a) - 1 for a in pending.action.tolist()]
        score = self.objective.score(self.metrics, self.params)
        reward = self._reward(score, pending) - self.settings.rejection_penalty
        self._add(pending, reward, self._observe(self.params))

    # -- encoding -----------------------------------------------------------------------
    def observation(self) -> torch.Tensor:
        """The current state vector (obs_dim,) (after at least one window)."""
        if self.metrics is None:
            raise InvalidSpecError([FieldIssue("metrics", "no window of metrics seen yet")])
        return self._observe(self.params)

    def _observe(self, params: Mapping[str, Fraction]) -> torch.Tensor:
        return self._compose(
            self._global(),
            self.space.encode(params),
            self.mask(params),
            self._last_move,
            self._last_gain,
            self._last_rejected,
        )

    def _global(self) -> list[float]:
        """The global part of the state, without the last move's reward."""
        assert self.metrics is not None
        m, prev = self.metrics, self._prev_metrics
        now_f = [self.objective.feature(k, m.get(k)) for k in self.metric_names]
        if prev is None:
            deltas = [0.0] * len(now_f)
        else:
            deltas = [
                a - self.objective.feature(k, prev.get(k))
                for k, a in zip(self.metric_names, now_f, strict=True)
            ]
        slack = [self.objective.slack(k, m) for k in self.constraint_keys]
        return [*now_f, *deltas, *slack, min(self._rejections_now, 3) / 3.0]

    @staticmethod
    def _compose(
        glob: list[float],
        positions: Sequence[float],
        mask: torch.Tensor,
        moves: Sequence[int],
        gain: float,
        rejected: Sequence[int],
    ) -> torch.Tensor:
        vec = [*glob, gain]
        for h, pos in enumerate(positions):
            move = moves[h]
            vec += [pos, float(move), move * gain, float(rejected[h])]
            vec += [float(mask[h, DOWN]), float(mask[h, UP])]
        return torch.tensor([max(-3.0, min(3.0, x)) for x in vec], dtype=torch.float32)

    def mask(self, params: Mapping[str, Fraction]) -> torch.Tensor:
        """(n, 3) allowed moves from ``params``: inside each domain's grid and,
        with a screening guardrail, proved when made alone."""
        mask = self.space.mask(params)
        guard = self.guardrail
        if guard is None or not self.settings.screen_moves:
            return mask
        for h, axis in enumerate(self.space.axes):
            for a in (DOWN, UP):
                if bool(mask[h, a]):
                    moved = axis.moved(params[axis.name], a, self.space.fraction)
                    mask[h, a] = moved is not None and guard.screen({**params, axis.name: moved})
        return mask

    # -- acting and learning ---------------------------------------------------------------
    def _imagine(self, now: Mapping[str, Fraction]) -> None:
        """Dyna: PPO updates on rollouts imagined through the score model
        (:mod:`upir.tuning.imagination`), seen as the policy would see them now."""
        glob, none = self._global(), [0] * len(self.space)

        def view(
            pos: Sequence[float], mask: torch.Tensor, moves: Sequence[int], gain: float
        ) -> torch.Tensor:
            return self._compose(glob, pos, mask, moves, gain, none)

        args = (self.model, self.space, now, self._last_move, self._last_gain, view, self._grid)
        diagnostics = imagine(self.agent, *args)
        if diagnostics:  # empty: the model could not be fitted, nothing was imagined
            self.last_imagined = diagnostics
            self.counters["imagined"] += 1

    def _propose(self, obs: torch.Tensor, deterministic: bool) -> dict[str, Fraction]:
        mask = self.mask(self.params)
        action, logprob, value = self.agent.act(obs, mask, deterministic=deterministic)
        act = action[0]
        proposal = self.space.decode(self.params, act)
        self._pending = Pending(
            obs=obs,
            mask=mask,
            action=act.clone(),
            logprob=float(logprob[0]),
            value=float(value[0]),
            before=dict(self.params),
            proposal=proposal,
            score=self._score_now(),
        )
        self.counters["proposals"] += 1
        return dict(proposal)

    def _reward(self, score: float, p: Pending) -> float:
        return score - p.score if self.settings.reward == "improvement" else score

    def _add(self, p: Pending, reward: float, next_obs: torch.Tensor) -> None:
        self.buffer.add(
            p.obs.unsqueeze(0),
            p.mask.unsqueeze(0),
            p.action.unsqueeze(0),
            torch.tensor([p.logprob]),
            torch.tensor([p.value]),
            float(reward),
            next_obs.unsqueeze(0),
            False,
            False,
        )
        self.counters["transitions"] += 1
        if self.buffer.full:
            if self.settings.model.enabled:
                self.agent.rescore(self.buffer)  # drawn before imagined updates
            self.last_update = self.agent.update(self.buffer)
            self.counters["updates"] += 1

    def _score_now(self) -> float:
        assert self.metrics is not None
        return self.objective.score(self.metrics, self.params)

    def _cut(self) -> None:
        """Mark the last stored transition as truncated (a gap follows it)."""
        if self.buffer.pos > 0:
            self.buffer.truncated[self.buffer.pos - 1] = 1.0

    def _check_settings(self) -> None:
        # the one check of the tuning settings tree, on this learner's branch
        if issues := TuningSettings(learner=self.settings).problems():
            raise InvalidSpecError(issues)

    def _new_agent(self, config: PPOConfig, seed: int) -> PPOAgent:
        """The agent as first built (the same weights for the same seed)."""
        n, st = len(self.space), self.settings
        keep = st.keep_prob if st.keep_prob is not None else max(0.5, 1.0 - 3.0 / n)
        dims = self.space.action_dims
        shared, embed = st.policy == "shared", st.embed_dim
        args = (self.global_dim, HEAD_FEATURES, dims, config, seed)
        return tuner_agent(*args, keep_prob=keep, shared=shared, embed_dim=embed)

    def _restart(self) -> None:
        """The load jumped (:mod:`upir.tuning.restart`): back to the first
        policy (a fresh optimiser too), and by default a score model without the
        windows before the jump. The proposal pending is not this window's
        cause (the load is) and is dropped; the values in force stay."""
        fresh = self._new_agent(self.agent.config, self.agent.seed)
        self.agent.net.actor.load_state_dict(fresh.net.actor.state_dict())
        cfg = self.agent.config
        self.agent.optimizer = torch.optim.Adam(
            self.agent.net.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps
        )
        if self.settings.restart.forget_model:
            self.model.clear()
        self._cut()
        if self._pending is not None:
            self._pending = None
            self.counters["dropped"] += 1
        self.counters["restarts"] += 1

    def _current(self, current: Mapping[str, Fraction | Number] | None) -> dict[str, Fraction]:
        if current is None:
            return dict(self.params)
        values = fractions_of(current)
        self.space.values_of(values)  # every tunable must be there
        return {n: values[n] for n in self.space.names}

    # -- reports ---------------------------------------------------------------------------------
    @property
    def pending_proposal(self) -> dict[str, Fraction] | None:
        """The proposal waiting for its window (None when there is none)."""
        return None if self._pending is None else dict(self._pending.proposal)

    def stats(self) -> dict[str, Any]:
        """Counters, the last reward and the last PPO update's diagnostics."""
        return {
            **self.counters,
            "buffered": self.buffer.pos,
            "lastReward": self.last_reward,
            "lastUpdate": dict(self.last_update),
            "lastImagined": dict(self.last_imagined),
        }

    # -- checkpoints -------------------------------------------------------------------------------
    def signature(self) -> dict[str, Any]:
        """What a checkpoint must match: the action space and the observation layout."""
        return {
            "parameters": [
                [a.name, str(a.domain.min), str(a.domain.max), str(a.unit)] for a in self.space.axes
            ],
            "maxStepFraction": str(self.space.fraction),
            "metrics": list(self.metric_names),
            "constraints": list(self.constraint_keys),
            "obsDim": self.obs_dim,
            "policy": self.settings.policy,
            "embedDim": self.settings.embed_dim,
        }

    def to_bytes(self) -> bytes:
        """Everything needed to resume: agent (weights, optimizer, RNG), the
        partial rollout, the pending proposal, the baseline and the counters."""
        pos = self.buffer.pos
        b = self.buffer
        p = self._pending
        state: dict[str, Any] = {
            "format": LEARNER_FORMAT,
            "signature": self.signature(),
            "settings": self.settings.to_dict(),
            "agent": self.agent.state_dict(),
            "buffer": {
                "pos": pos,
                **{k: getattr(b, k)[:pos].clone() for k in BUFFER_FIELDS},
            },
            "params": strings_of(self.params),
            "metrics": self.metrics,
            "prevMetrics": self._prev_metrics,
            "objective": self.objective.state(),
            "pending": None if p is None else p.to_state(),
            "rejectionsNow": self._rejections_now,
            "lastMove": list(self._last_move),
            "lastRejected": list(self._last_rejected),
            "lastGain": self._last_gain,
            "counters": dict(self.counters),
            "lastReward": self.last_reward,
            "lastUpdate": dict(self.last_update),
            "rejections": list(self.rejections),
            "model": self.model.state(),
            "watch": self.watch.state(),
        }
        out = io.BytesIO()
        torch.save(state, out)
        return out.getvalue()

    @classmethod
    def from_bytes(
        cls, data: bytes, upir: UPIR, *, guardrail: Guardrail | None = None
    ) -> ArchitectureLearner:
        """Resume a learner for ``upir`` from :meth:`to_bytes` output (``guardrail``:
        as for the constructor).

        Raises :class:`CheckpointError` when the blob is unreadable or was made
        for another action space or observation layout (a changed spec). Loads
        with ``weights_only=True``: a checkpoint holds data, never code."""
        try:
            state = torch.load(io.BytesIO(data), weights_only=True)
            if not isinstance(state, dict) or state.get("format") != LEARNER_FORMAT:
                raise CheckpointError(f"not a {LEARNER_FORMAT} checkpoint")
            agent_state = state["agent"]
            config = PPOConfig.from_dict(dict(agent_state["config"]))
            learner = cls(
                upir,
                config=config,
                seed=int(agent_state["seed"]),
                settings=LearnerSettings.from_dict(state["settings"]),
                guardrail=guardrail,
            )
            if state["signature"] != learner.signature():
                raise CheckpointError("the checkpoint was made for another spec's parameters")
            learner.agent.load_state_dict(agent_state)
            learner._load(state)
        except CheckpointError:
            raise
        except Exception as exc:  # torch.load and malformed dicts raise many types
            raise CheckpointError(f"unreadable learner checkpoint: {exc}") from None
        return learner

    def _load(self, state: Mapping[str, Any]) -> None:
        buf = state["buffer"]
        pos = int(buf["pos"])
        if not 0 <= pos < self.buffer.num_steps:
            raise CheckpointError(f"buffer position {pos} out of range")
        for k in BUFFER_FIELDS:
            getattr(self.buffer, k)[:pos] = buf[k]
        self.buffer.pos = pos
        self.params = parse_values(state["params"])
        self.space.values_of(self.params)
        self.metrics = floats_of(state["metrics"])
        self._prev_metrics = floats_of(state["prevMetrics"])
        self.objective.load_state(state["objective"])
        p = state["pending"]
        self._pending = None if p is None else Pending.from_state(p)
        self._rejections_now = int(state["rejectionsNow"])
        self._last_move = [int(x) for x in state["lastMove"]]
        self._last_rejected = [int(x) for x in state["lastRejected"]]
        self._last_gain = float(state["lastGain"])
        if len(self._last_move) != len(self.space) or len(self._last_rejected) != len(self.space):
            raise CheckpointError("checkpoint's per-parameter state has the wrong length")
        # update, not replace: a checkpoint older than a counter lacks its key
        self.counters.update({str(k): int(v) for k, v in state["counters"].items()})
        last = state["lastReward"]
        self.last_reward = None if last is None else float(last)
        self.last_update = {str(k): float(v) for k, v in state["lastUpdate"].items()}
        self.rejections.extend(state["rejections"])
        self.model.load_state(state.get("model") or {})
        self.watch.load_state(state.get("watch") or {})
