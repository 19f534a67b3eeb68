"""Credit assignment: which window rewards which proposal.

The window measured after a proposal was applied is the consequence of that
proposal, so the learner keeps each proposal :class:`Pending` and, at the next
window, records its transition with *that* window's reward before proposing
again (:meth:`upir.tuning.learner.ArchitectureLearner.learn_from_metrics`).

- A proposal that was not applied (the values in force are not the ones it
  proposed: the operator held, is in Recommend mode, rolled back, or someone
  changed them by hand) is dropped rather than credited with a window it did
  not cause, and the rollout is cut there (:meth:`Rollout.cut`): the advantage
  recursion must not bridge the gap.
- A rejected proposal is recorded at once
  (:meth:`~upir.tuning.learner.ArchitectureLearner.record_rejection`): the
  parameters did not change, so its consequence is the last window's reward
  minus ``LearnerSettings.rejection_penalty``.
- The reward is the window's score minus the score of the window the proposal
  was made in (``LearnerSettings.reward="improvement"``, the default: a move is
  credited with the change it caused, not with where the service already was),
  or the score itself (``"absolute"``).

A full rollout is one PPO update (:class:`Rollout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import torch

from upir.core.numbers import Number, to_fraction
from upir.tuning.rl.agent import PPOAgent, RolloutBuffer

__all__ = ["Pending", "Rollout", "fractions_of", "reward_of", "same_values"]


@dataclass
class Pending:
    """A proposal waiting for the window that shows its consequence."""

    obs: torch.Tensor
    mask: torch.Tensor
    action: torch.Tensor
    logprob: float
    value: float
    before: dict[str, Fraction]
    proposal: dict[str, Fraction]
    score: float
    """Score of the window the proposal was made in (for improvement rewards)."""


def fractions_of(values: Mapping[str, Fraction | Number]) -> dict[str, Fraction]:
    return {k: to_fraction(v) for k, v in values.items()}


def same_values(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> bool:
    """Whether ``a`` holds every value of ``b`` (the proposal ``b`` is in force)."""
    return all(a.get(k) == v for k, v in b.items())


def reward_of(score: float, pending: Pending, reward: str) -> float:
    """``pending``'s reward for a window scoring ``score`` (``reward``:
    ``LearnerSettings.reward``)."""
    return score - pending.score if reward == "improvement" else score


class Rollout:
    """The transitions of the next PPO update, one credited proposal at a time.

    ``rescore``: recompute the stored values and log-probabilities with the
    current policy before an update (with imagination on: imagined updates
    have moved the policy since the real moves were drawn)."""

    def __init__(self, agent: PPOAgent, *, rescore: bool) -> None:
        self.agent = agent
        self.buffer: RolloutBuffer = agent.new_buffer(num_envs=1)
        self.rescore = rescore

    def add(self, p: Pending, reward: float, next_obs: torch.Tensor) -> dict[str, float] | None:
        """Store ``p``'s transition; when that fills the rollout, update PPO on
        it and return the update's diagnostics (None otherwise)."""
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
        if not self.buffer.full:
            return None
        if self.rescore:
            self.agent.rescore(self.buffer)  # drawn before imagined updates
        return self.agent.update(self.buffer)

    def cut(self) -> None:
        """Mark the last stored transition as truncated (a gap follows it)."""
        if self.buffer.pos > 0:
            self.buffer.truncated[self.buffer.pos - 1] = 1.0
