"""PPO building blocks: the configuration, seeding, GAE and the clipped loss.

Everything here is a pure function of its arguments (tensors in, tensors out),
so each piece has a unit test against values computed by hand. The agent that
strings them together lives in :mod:`upir.tuning.rl.agent`.

The algorithm follows the PPO paper (Schulman et al., 2017) with the
implementation details that matter in practice (Huang et al., "The 37
Implementation Details of PPO", 2022): GAE(lambda), per-minibatch advantage
normalisation, clipped value loss, entropy bonus, global gradient-norm clipping,
learning-rate annealing and an optional target-KL early stop. Each detail is a
switch in :class:`PPOConfig`.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from upir.errors import SettingsError

__all__ = [
    "LossStats",
    "PPOConfig",
    "compute_gae",
    "explained_variance",
    "ppo_loss",
    "seed_everything",
]


@dataclass(frozen=True, slots=True)
class PPOConfig:
    """PPO hyperparameters. Every implementation trick is a switch.

    Defaults are the usual ones for small discrete-action problems (cleanrl's
    ``ppo.py``), except ``num_steps``, which is short because one step of the
    tuner is one decision window of a live service.
    """

    learning_rate: float = 2.5e-4
    """Adam step size (dimensionless), default 2.5e-4. 0 turns learning off."""
    gamma: float = 0.99
    """Discount factor per step, in [0, 1], default 0.99."""
    gae_lambda: float = 0.95
    """GAE(lambda) trace parameter, in [0, 1], default 0.95 (1 gives Monte Carlo
    returns bootstrapped at the rollout's end, 0 gives one-step TD)."""
    clip_coef: float = 0.2
    """Surrogate clipping range epsilon: ratios outside [1-eps, 1+eps] get no
    gradient in the direction that moves them further out. Default 0.2. Also the
    value clipping range when ``clip_vloss`` is on (as in cleanrl)."""
    clip_vloss: bool = True
    """Clip the value loss around the rollout's value estimates, default on."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus (nats), default 0.01."""
    vf_coef: float = 0.5
    """Weight of the value loss, default 0.5."""
    max_grad_norm: float = 0.5
    """Global L2 norm the gradients are clipped to, default 0.5."""
    update_epochs: int = 4
    """Passes over the rollout per update, default 4."""
    num_minibatches: int = 4
    """Minibatches per epoch, default 4 (minibatch size = rollout size / this;
    a rollout smaller than this uses one sample per minibatch)."""
    norm_adv: bool = True
    """Normalise advantages to zero mean, unit std within each minibatch, default on."""
    target_kl: float | None = None
    """Stop the update early once a minibatch's approx KL (nats) exceeds this;
    ``None`` (default) never stops early."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over ``total_updates``, default off."""
    total_updates: int | None = None
    """Updates the annealing schedule spans; required when ``anneal_lr`` is on."""
    num_steps: int = 128
    """Transitions per environment the rollout buffer holds, default 128."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Widths of the hidden layers of the actor and of the critic, default (64, 64)."""
    adam_eps: float = 1e-5
    """Adam's epsilon, default 1e-5 (cleanrl; torch's 1e-8 is less stable here)."""

    def __post_init__(self) -> None:
        problems: list[str] = []

        def check(ok: bool, message: str) -> None:
            if not ok:
                problems.append(message)

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not np.isfinite(value):
                problems.append(f"{f.name} must be finite, got {value!r}")
        check(self.learning_rate >= 0, "learning_rate must be >= 0")
        check(0 <= self.gamma <= 1, "gamma must be in [0, 1]")
        check(0 <= self.gae_lambda <= 1, "gae_lambda must be in [0, 1]")
        check(self.clip_coef > 0, "clip_coef must be > 0")
        check(self.ent_coef >= 0, "ent_coef must be >= 0")
        check(self.vf_coef >= 0, "vf_coef must be >= 0")
        check(self.max_grad_norm > 0, "max_grad_norm must be > 0")
        check(_is_int(self.update_epochs) and self.update_epochs >= 1, "update_epochs must be >= 1")
        check(
            _is_int(self.num_minibatches) and self.num_minibatches >= 1,
            "num_minibatches must be >= 1",
        )
        check(_is_int(self.num_steps) and self.num_steps >= 1, "num_steps must be >= 1")
        check(self.target_kl is None or self.target_kl > 0, "target_kl must be > 0 or None")
        check(
            not self.anneal_lr
            or (
                self.total_updates is not None
                and _is_int(self.total_updates)
                and self.total_updates >= 1
            ),
            "anneal_lr needs total_updates >= 1",
        )
        check(
            isinstance(self.hidden_sizes, tuple)
            and len(self.hidden_sizes) >= 1
            and all(_is_int(h) and h >= 1 for h in self.hidden_sizes),
            "hidden_sizes must be a non-empty tuple of positive integers",
        )
        check(self.adam_eps > 0, "adam_eps must be > 0")
        if problems:
            raise SettingsError("invalid PPOConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (used by checkpoints)."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`SettingsError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"unknown PPOConfig fields: {', '.join(unknown)}")
        values = dict(data)
        if "hidden_sizes" in values:
            values["hidden_sizes"] = tuple(values["hidden_sizes"])
        try:
            return cls(**values)
        except TypeError as exc:  # wrong types inside comparisons
            raise SettingsError(f"invalid PPOConfig: {exc}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators; return a private one.

    This is the one place the project touches global random state, so scripts
    and tests get reproducible runs by calling it once at start-up. Library code
    never relies on it: the agent and the simulator take their own generators.
    With ``deterministic`` PyTorch also refuses non-deterministic kernels.

    Returns a new ``torch.Generator`` seeded with ``seed``.
    """
    if not _is_int(seed) or seed < 0:
        raise SettingsError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global is what we are seeding
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns of one rollout.

    All tensors have the same shape ``(T, ...)``: time first, any number of
    environment dimensions after. For step ``t``:

    - ``rewards[t]``: reward received after acting in state ``s_t``;
    - ``values[t]``: ``V(s_t)``;
    - ``next_values[t]``: ``V(s')`` of the state the step actually reached,
      *before* any reset. At a truncation (time limit, end of the rollout)
      that is the value of the truncation state, which is why it is passed per
      step rather than read off ``values[t + 1]`` (which belongs to the next
      episode after a reset);
    - ``terminated[t]``: the episode ended in a terminal state (no future
      rewards: the step does not bootstrap);
    - ``truncated[t]``: the episode was cut off without reaching a terminal
      state (the step bootstraps from ``next_values[t]``, but the advantage
      recursion does not continue into the next episode).

    The recursion, with ``nt = 1 - terminated[t]`` and ``c = 1 - (terminated[t]
    or truncated[t])``::

        delta[t] = rewards[t] + gamma * nt * next_values[t] - values[t]
        adv[t]   = delta[t] + gamma * gae_lambda * c * adv[t + 1]

    with ``adv[T] = 0``: the last step of a rollout is always an implicit
    truncation, bootstrapped through its ``next_values``. A step flagged both
    terminated and truncated counts as terminated. Returns
    ``(advantages, returns)`` where ``returns = advantages + values`` (the
    critic's regression target).
    """
    shape = rewards.shape
    for name, tensor in (
        ("values", values),
        ("next_values", next_values),
        ("terminated", terminated),
        ("truncated", truncated),
    ):
        if tensor.shape != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {tuple(shape)}")
    if rewards.ndim == 0:
        raise ValueError("compute_gae needs at least a time dimension")
    dtype = rewards.dtype if rewards.is_floating_point() else torch.float32
    not_terminal = 1.0 - terminated.to(dtype)
    not_boundary = not_terminal * (1.0 - truncated.to(dtype))
    deltas = rewards.to(dtype) + gamma * not_terminal * next_values.to(dtype) - values.to(dtype)
    advantages = torch.zeros_like(deltas)
    carry = torch.zeros_like(deltas[0])
    for t in range(shape[0] - 1, -1, -1):
        carry = deltas[t] + gamma * gae_lambda * not_boundary[t] * carry
        advantages[t] = carry
    return advantages, advantages + values.to(dtype)


@dataclass(frozen=True, slots=True)
class LossStats:
    """Diagnostics of one PPO loss evaluation (plain floats, detached)."""

    pg_loss: float
    """Clipped surrogate policy loss (to be minimised)."""
    v_loss: float
    """Value loss, 0.5 * mean squared error (clipped when configured)."""
    entropy: float
    """Mean policy entropy, nats."""
    approx_kl: float
    """KL(old || new) estimate ``mean((r - 1) - log r)`` (Schulman's k3; >= 0)."""
    clipfrac: float
    """Share of samples whose ratio lies outside [1 - clip, 1 + clip]."""


def ppo_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    new_values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    config: PPOConfig,
) -> tuple[torch.Tensor, LossStats]:
    """The PPO objective of one minibatch: ``pg - ent_coef * H + vf_coef * V``.

    All tensors are 1-D of the minibatch's size. ``new_*`` come from the current
    network (and carry gradients); ``old_*``, ``advantages`` and ``returns``
    come from the rollout. With ``config.norm_adv`` the advantages are
    normalised here, per minibatch (a minibatch of one sample is left as is,
    its standard deviation being undefined).

    Policy loss: ``mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps)))`` with
    ``r = exp(new_logprob - old_logprob)``.

    Value loss: ``0.5 * mean((v - R)^2)``; with ``config.clip_vloss``,
    ``0.5 * mean(max((v - R)^2, (v_old + clip(v - v_old, -eps, eps) - R)^2))``.
    """
    logratio = new_logprob - old_logprob
    ratio = logratio.exp()
    if config.norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    eps = config.clip_coef
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1.0 - eps, 1.0 + eps)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

    v_loss_unclipped = (new_values - returns) ** 2
    if config.clip_vloss:
        v_clipped = old_values + torch.clamp(new_values - old_values, -eps, eps)
        v_loss_clipped = (v_clipped - returns) ** 2
        v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        v_loss = 0.5 * v_loss_unclipped.mean()
    entropy_mean = entropy.mean()
    loss = pg_loss - config.ent_coef * entropy_mean + config.vf_coef * v_loss

    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > eps).float().mean()
    stats = LossStats(
        pg_loss=float(pg_loss.detach()),
        v_loss=float(v_loss.detach()),
        entropy=float(entropy_mean.detach()),
        approx_kl=float(approx_kl),
        clipfrac=float(clipfrac),
    )
    return loss, stats


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """``1 - Var(target - predicted) / Var(target)``: how much of the returns'
    variance the critic explains (1 perfect, 0 no better than a constant,
    negative worse). NaN when the targets have zero variance."""
    predicted = predicted.detach().flatten().double()
    target = target.detach().flatten().double()
    var_target = torch.var(target, unbiased=False)
    if target.numel() == 0 or float(var_target) == 0.0:
        return float("nan")
    return float(1.0 - torch.var(target - predicted, unbiased=False) / var_target)
