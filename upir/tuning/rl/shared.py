"""A parameter-shared actor: one small network scores the moves of every head.

The tuner's heads (one per tunable parameter) face the same kind of decision:
given how the service is doing and where this parameter sits and last moved,
go down, keep, or go up. Giving each head its own output weights (the plain
:class:`~upir.tuning.rl.policy.ActorCritic`) means each learns only from its own
moves, about a third of the windows. Here every head's logits come from one
shared MLP over ``[global features, the head's own features, a learned
embedding of the head]``, so every window trains the rule for all heads, and the
embedding still lets heads differ (a replica count is not a timeout).

The observation is laid out as ``global (G values) | head 0 (K values) | ...
| head H-1 (K values)``. :class:`SharedHeadActor` replaces the ``actor`` of an
:class:`~upir.tuning.rl.policy.ActorCritic` (it maps ``(B, obs_dim)`` to
``(B, H * A)`` logits like the MLP it replaces), so masking, sampling, the
critic, PPO's update and checkpoints are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from upir.tuning.rl.agent import PPOAgent
from upir.tuning.rl.policy import KEEP
from upir.tuning.rl.ppo import PPOConfig

__all__ = ["SharedHeadActor", "tuner_agent"]


class SharedHeadActor(nn.Module):
    """Per-head logits from a shared MLP.

    Args:
        global_dim: G, features shared by every head.
        head_dim: K, features of each head.
        n_heads: H.
        n_actions: A, actions per head.
        hidden: widths of the shared MLP's hidden layers.
        embed_dim: size of each head's learned embedding.
        generator: seeds the initialisation.
    """

    def __init__(
        self,
        global_dim: int,
        head_dim: int,
        n_heads: int,
        n_actions: int,
        hidden: tuple[int, ...],
        embed_dim: int,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        self.global_dim = global_dim
        self.head_dim = head_dim
        self.n_heads = n_heads
        self.n_actions = n_actions
        self.embedding = nn.Parameter(torch.zeros(n_heads, embed_dim))
        nn.init.normal_(self.embedding, 0.0, 0.5, generator=generator)
        layers: list[nn.Module] = []
        width = global_dim + head_dim + embed_dim
        for h in hidden:
            layers += [_linear(width, h, math.sqrt(2.0), generator), nn.Tanh()]
            width = h
        # small output gain: the policy starts close to its biases (see the learner)
        self.out = _linear(width, n_actions, 0.01, generator)
        self.body = nn.Sequential(*layers)

    @property
    def obs_dim(self) -> int:
        return self.global_dim + self.n_heads * self.head_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        b = obs.shape[0]
        g = obs[:, : self.global_dim].unsqueeze(1).expand(b, self.n_heads, self.global_dim)
        heads = obs[:, self.global_dim :].reshape(b, self.n_heads, self.head_dim)
        emb = self.embedding.unsqueeze(0).expand(b, -1, -1)
        x = torch.cat([g, heads, emb], dim=-1)
        logits: torch.Tensor = self.out(self.body(x))
        return logits.reshape(b, self.n_heads * self.n_actions)


def _linear(n_in: int, n_out: int, gain: float, generator: torch.Generator | None) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def tuner_agent(
    global_dim: int,
    head_dim: int,
    action_dims: Sequence[int],
    config: PPOConfig,
    seed: int,
    *,
    keep_prob: float,
    shared: bool,
    embed_dim: int,
) -> PPOAgent:
    """The tuner's PPO agent, deterministic in ``seed``: an observation of
    ``global_dim + len(action_dims) * head_dim`` values, one head per parameter
    (a :class:`SharedHeadActor` with ``shared``, else one output layer), and a
    first policy that keeps each parameter with probability ``keep_prob`` and
    moves it down or up equally likely (the output layer's weights are tiny, so
    its biases set the first policy). Built again with the same arguments, it
    has the same initial weights: the learner restarts from them."""
    n = len(action_dims)
    agent = PPOAgent(global_dim + n * head_dim, action_dims, config, seed)
    if shared:
        agent.net.actor = SharedHeadActor(
            global_dim,
            head_dim,
            n,
            agent.net.max_actions,
            config.hidden_sizes,
            embed_dim,
            agent.generator,
        )
        agent.optimizer = torch.optim.Adam(
            agent.net.parameters(), lr=config.learning_rate, eps=config.adam_eps
        )
    logit = math.log(keep_prob / ((1.0 - keep_prob) / 2.0))
    actor = agent.net.actor
    with torch.no_grad():
        if isinstance(actor, SharedHeadActor):
            actor.out.bias[KEEP] = logit
        else:
            assert isinstance(actor, nn.Sequential)
            last = actor[-1]
            assert isinstance(last, nn.Linear)
            last.bias.view(n, agent.net.max_actions)[:, KEEP] = logit
    return agent
