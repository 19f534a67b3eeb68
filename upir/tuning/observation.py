"""What the policy sees: the state vector of one decision window.

State (all in [-3, 3]), global part: each objective metric, relative to the
first window (log-ratio) or as a share; the change of each since the previous
window; the slack of every constraint a metric measures; the number of
rejections in this window; the reward of the last applied move. Then, per
tunable parameter (:data:`HEAD_FEATURES`): its position in its domain; its last
applied move (-1, 0, +1) and that move times the reward it earned; its last
rejected move; whether it can go down and up.

Why this shape: the shared policy (:mod:`upir.tuning.rl.shared`) reads every
parameter through the same weights, so each parameter's part is the same
:data:`HEAD_FEATURES` features whatever the spec; the global part says how the
service is doing now and which way it moved. A parameter's last move and that
move times its reward let the policy tell a direction that paid from one that
did not; its last rejected move, which move the guardrail just refused. Values
are clipped to [-3, 3], so one extreme window (an outage's latency) moves an
input by at most that much.

The learner keeps what the state needs between windows in :class:`Recent`;
:class:`Observer` turns it into the vector, for real windows and, with the
positions an imagined trajectory reached, for imagined ones
(:mod:`upir.tuning.imagination`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import torch

from upir.tuning.imagination import View
from upir.tuning.objective import TuningObjective
from upir.tuning.rl.policy import DOWN, UP
from upir.tuning.space import ParameterSpace

__all__ = ["HEAD_FEATURES", "Observer", "Recent"]

HEAD_FEATURES = 6
"""Features per tunable parameter in the observation (see the module docstring)."""


@dataclass
class Recent:
    """What the learner remembers of the last windows and moves: the part of
    the state that is not the parameters' positions (kept in checkpoints)."""

    last_move: list[int]
    """Each parameter's last applied move (-1, 0, +1)."""
    last_rejected: list[int]
    """Each parameter's move in the last rejected proposal (cleared by the
    next applied move that changes something)."""
    last_gain: float = 0.0
    """The reward the last applied move earned, clipped to [-1, 1]."""
    metrics: dict[str, float] | None = None
    """The last window's metrics (completed), None before the first."""
    prev_metrics: dict[str, float] | None = None
    """The window's before it (for the changes), None before the second."""
    rejections_now: int = 0
    """Rejections since the last window."""

    @classmethod
    def first(cls, n: int) -> Recent:
        """Before any window, for ``n`` tunable parameters."""
        return cls(last_move=[0] * n, last_rejected=[0] * n)

    def seen(self, metrics: dict[str, float]) -> None:
        """A new window's metrics: the last becomes the previous, and no
        proposal has been rejected in it yet."""
        self.prev_metrics, self.metrics = self.metrics, metrics
        self.rejections_now = 0


@dataclass
class Observer:
    """The state layout of one spec: which metrics and constraints the global
    part holds, and its dimensions."""

    objective: TuningObjective
    space: ParameterSpace
    metric_names: tuple[str, ...] = field(init=False)
    """The objective's metrics, in the global part's order."""
    constraint_keys: tuple[str, ...] = field(init=False)
    """The constraints a metric measures, in the global part's order."""
    global_dim: int = field(init=False)
    obs_dim: int = field(init=False)

    def __post_init__(self) -> None:
        self.metric_names = self.objective.metric_names()
        self.constraint_keys = tuple(sorted(self.objective.bounds))
        n, m, c = len(self.space), len(self.metric_names), len(self.constraint_keys)
        self.global_dim = 2 * m + c + 2
        self.obs_dim = self.global_dim + n * HEAD_FEATURES

    def observe(
        self,
        recent: Recent,
        params: Mapping[str, Fraction],
        mask: Callable[[Mapping[str, Fraction]], torch.Tensor],
    ) -> torch.Tensor:
        """The state with ``params`` in force; ``mask`` gives the moves allowed
        from them (the learner's, screened: :mod:`upir.tuning.screening`)."""
        return self.compose(
            self.global_part(recent),
            self.space.encode(params),
            mask(params),
            recent.last_move,
            recent.last_gain,
            recent.last_rejected,
        )

    def imagined(self, recent: Recent) -> View:
        """How the policy sees an imagined state: today's global part, the
        imagined positions, moves and reward, and no rejection (imagined moves
        are never checked)."""
        glob, none = self.global_part(recent), [0] * len(self.space)

        def view(
            pos: Sequence[float], mask: torch.Tensor, moves: Sequence[int], gain: float
        ) -> torch.Tensor:
            return self.compose(glob, pos, mask, moves, gain, none)

        return view

    def global_part(self, recent: Recent) -> list[float]:
        """The global part of the state, without the last move's reward."""
        assert recent.metrics is not None
        m, prev = recent.metrics, recent.prev_metrics
        now_f = [self.objective.feature(k, m.get(k)) for k in self.metric_names]
        if prev is None:
            deltas = [0.0] * len(now_f)
        else:
            deltas = [
                a - self.objective.feature(k, prev.get(k))
                for k, a in zip(self.metric_names, now_f, strict=True)
            ]
        slack = [self.objective.slack(k, m) for k in self.constraint_keys]
        return [*now_f, *deltas, *slack, min(recent.rejections_now, 3) / 3.0]

    @staticmethod
    def compose(
        glob: list[float],
        positions: Sequence[float],
        mask: torch.Tensor,
        moves: Sequence[int],
        gain: float,
        rejected: Sequence[int],
    ) -> torch.Tensor:
        """The vector from its parts, every value clipped to [-3, 3]."""
        vec = [*glob, gain]
        for h, pos in enumerate(positions):
            move = moves[h]
            vec += [pos, float(move), move * gain, float(rejected[h])]
            vec += [float(mask[h, DOWN]), float(mask[h, UP])]
        return torch.tensor([max(-3.0, min(3.0, x)) for x in vec], dtype=torch.float32)
