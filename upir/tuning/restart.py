"""Regime changes: when the load jumps, the learner starts learning afresh.

Why: a policy tuned under one load becomes confident (each move's probability
near 0 or 1), and PPO's clipped ratio lets a probability grow by at most
``1 + clip_coef`` per update, so after a jump in load that saturates the
configuration it found, the moves that would help (more replicas) stay
untried for tens of windows while every nearby configuration scores equally
badly. A watch over one load metric (offered requests per second, say) notices
the jump, and the learner then resets its policy to its initial, exploring
weights and, by default, forgets its score model's windows from before the jump
(:meth:`upir.tuning.learner.ArchitectureLearner.learn_from_metrics`, with
:func:`restart_policy`). The parameters in force stay as they are; only what
was learnt about them goes.

A jump is a window whose metric differs from a running mean of the previous
windows by more than ``factor`` either way; the running mean (an exponential
moving average of the logarithm) follows slow drift, such as a daily cycle,
without restarts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from upir.tuning.rl.agent import PPOAgent

__all__ = ["LoadWatch", "RestartSettings", "restart_policy"]


@dataclass(frozen=True, slots=True)
class RestartSettings:
    """When the learner starts afresh (see :mod:`upir.tuning.restart`)."""

    metric: str | None = None
    """The load metric watched, e.g. ``offered_rps`` (requests offered per
    second, before drops and errors: throughput itself caps when the service
    saturates). None (the default): never restart."""
    factor: float = 1.5
    """A window whose metric is more than ``factor`` times the running mean, or
    less than the mean over ``factor``, is a jump (a ratio > 1; default 1.5)."""
    smoothing: float = 0.2
    """Weight of each window in the running mean (in (0, 1]; default 0.2:
    about the last 5 windows)."""
    forget_model: bool = True
    """Also drop the score model's windows (``LearnerSettings.model``) at a
    restart, so imagination starts from the new load alone."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every setting out of range."""
        out: list[tuple[str, str]] = []
        if self.metric is not None and not (isinstance(self.metric, str) and self.metric):
            out.append(("restart.metric", "must be a metric name or null"))
        if not (math.isfinite(self.factor) and self.factor > 1):
            out.append(("restart.factor", "must be a finite number > 1"))
        if not (math.isfinite(self.smoothing) and 0 < self.smoothing <= 1):
            out.append(("restart.smoothing", "must be in (0, 1]"))
        return out


class LoadWatch:
    """The running mean of one load metric, and whether a window jumps from it."""

    def __init__(self, settings: RestartSettings) -> None:
        self.settings = settings
        self.mean: float | None = None
        """Running mean of the metric's logarithm; None before the first window."""

    def jumped(self, metrics: Mapping[str, float]) -> bool:
        """Take in one window; True when it is a jump (the mean then restarts
        from it). A window without the metric, or with a value <= 0 or not
        finite, says nothing about the load and is skipped."""
        name = self.settings.metric
        value = metrics.get(name) if name is not None else None
        if value is None or not math.isfinite(value) or value <= 0:
            return False
        x = math.log(value)
        if self.mean is None:
            self.mean = x
            return False
        if abs(x - self.mean) > math.log(self.settings.factor):
            self.mean = x
            return True
        a = self.settings.smoothing
        self.mean = (1 - a) * self.mean + a * x
        return False

    def state(self) -> dict[str, Any]:
        return {"mean": self.mean}

    def load_state(self, state: Mapping[str, Any]) -> None:
        mean = state.get("mean")
        self.mean = None if mean is None else float(mean)


def restart_policy(agent: PPOAgent, fresh: PPOAgent) -> None:
    """Give ``agent`` the policy ``fresh`` was built with (the agent as first
    built, same seed) and a fresh optimiser. Only the actor goes back: it is
    the confident policy that keeps the helpful moves untried; the critic keeps
    its weights and the new windows correct it at the next update. The Adam
    moments go, so that steps sized for the old load do not steer the first
    updates under the new one."""
    agent.net.actor.load_state_dict(fresh.net.actor.state_dict())
    cfg = agent.config
    agent.optimizer = torch.optim.Adam(
        agent.net.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps
    )
