"""The actor-critic network: one categorical head per tunable parameter, with masks.

The tuner's action is a vector with one small move per parameter (down, keep,
up), so the policy is a product of independent categoricals: the joint log
probability and entropy are sums over heads. Heads may have different sizes
(a bandit is one head of k arms); logits are padded to the widest head and the
padding is masked out permanently, so one code path serves every shape.

Masking replaces a forbidden action's logit by the most negative float, so its
probability is exactly 0 and it contributes exactly 0 to the entropy; the
guardrail uses it to forbid moves that leave the parameter's domain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DOWN", "KEEP", "UP", "ActorCritic", "PolicyOutput"]

DOWN = 0
"""Action index: decrease the parameter by one step."""
KEEP = 1
"""Action index: leave the parameter as it is."""
UP = 2
"""Action index: increase the parameter by one step."""


def _mlp(
    sizes: Sequence[int], out: int, out_gain: float, generator: torch.Generator | None
) -> nn.Sequential:
    """tanh MLP with orthogonal init (gain sqrt(2) inside, ``out_gain`` at the end).

    Orthogonal init with a small policy-head gain (0.01) starts the policy close
    to uniform, which is what makes early exploration even across actions.
    """
    layers: list[nn.Module] = []
    width_in = sizes[0]
    for width in sizes[1:]:
        layers += [_linear(width_in, width, math.sqrt(2.0), generator), nn.Tanh()]
        width_in = width
    layers.append(_linear(width_in, out, out_gain, generator))
    return nn.Sequential(*layers)


def _linear(n_in: int, n_out: int, gain: float, generator: torch.Generator | None) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


class PolicyOutput:
    """What one forward pass of the actor gives for a batch (B samples, H heads)."""

    __slots__ = ("entropy", "logits", "logprob", "value")

    def __init__(
        self,
        logits: torch.Tensor,
        logprob: torch.Tensor,
        entropy: torch.Tensor,
        value: torch.Tensor,
    ) -> None:
        self.logits = logits
        """(B, H, A) masked, normalised log-probabilities."""
        self.logprob = logprob
        """(B,) joint log-probability of the evaluated action."""
        self.entropy = entropy
        """(B,) joint entropy (sum over heads), nats."""
        self.value = value
        """(B,) critic's value estimate."""


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs over the same observation.

    ``action_dims[h]`` is the number of actions of head ``h``; a tuner over
    ``n`` parameters uses ``(3,) * n`` (DOWN, KEEP, UP). Masks are boolean
    tensors of shape ``(B, H, A)`` with ``A = max(action_dims)``; True means
    allowed. Every head must keep at least one allowed action.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dims: Sequence[int],
        hidden_sizes: Sequence[int] = (64, 64),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if obs_dim < 1:
            raise ValueError(f"obs_dim must be >= 1, got {obs_dim}")
        if not action_dims or any(a < 1 for a in action_dims):
            raise ValueError(f"action_dims must be non-empty and positive, got {action_dims}")
        self.obs_dim = int(obs_dim)
        self.action_dims = tuple(int(a) for a in action_dims)
        self.n_heads = len(self.action_dims)
        self.max_actions = max(self.action_dims)
        sizes = [self.obs_dim, *hidden_sizes]
        self.critic = _mlp(sizes, 1, 1.0, generator)
        # Any module mapping (B, obs_dim) to (B, H * A) logits fits here; the tuner
        # swaps in a parameter-shared one (upir.tuning.rl.shared.SharedHeadActor).
        self.actor: nn.Module = _mlp(sizes, self.n_heads * self.max_actions, 0.01, generator)
        structural = torch.zeros(self.n_heads, self.max_actions, dtype=torch.bool)
        for h, a in enumerate(self.action_dims):
            structural[h, :a] = True
        # A buffer (not a parameter): moves with .to() and is saved in state_dict.
        self.structural_mask: torch.Tensor
        self.register_buffer("structural_mask", structural)

    def full_mask(self, batch: int) -> torch.Tensor:
        """An all-allowed mask (padding excluded) for a batch of ``batch``."""
        return self.structural_mask.unsqueeze(0).expand(batch, -1, -1).clone()

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """(B,) value estimates."""
        out: torch.Tensor = self.critic(obs)
        return out.squeeze(-1)

    def masked_logits(self, obs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(B, H, A) log-probabilities with forbidden actions at -inf-like."""
        flat: torch.Tensor = self.actor(obs)
        raw = flat.view(-1, self.n_heads, self.max_actions)
        allowed = self.structural_mask.unsqueeze(0)
        if mask is not None:
            if mask.shape[1:] != allowed.shape[1:]:
                raise ValueError(
                    f"mask has shape {tuple(mask.shape)}, expected (B, {self.n_heads}, "
                    f"{self.max_actions})"
                )
            allowed = allowed & mask.to(torch.bool)
        if not bool(allowed.any(dim=-1).all()):
            raise ValueError("every head needs at least one allowed action")
        neg = torch.finfo(raw.dtype).min
        logits = torch.where(allowed, raw, torch.full_like(raw, neg))
        return logits - torch.logsumexp(logits, dim=-1, keepdim=True)

    def evaluate(
        self, obs: torch.Tensor, mask: torch.Tensor | None, action: torch.Tensor
    ) -> PolicyOutput:
        """Log-probability and entropy of ``action`` (B, H) under the current policy."""
        logits = self.masked_logits(obs, mask)
        return PolicyOutput(logits, _logprob(logits, action), _entropy(logits), self.value(obs))

    def sample(
        self,
        obs: torch.Tensor,
        mask: torch.Tensor | None,
        generator: torch.Generator | None,
        deterministic: bool = False,
        explore: float = 0.0,
    ) -> tuple[torch.Tensor, PolicyOutput]:
        """Draw (B, H) actions (or take the most likely with ``deterministic``).

        ``explore`` in [0, 1] draws each head's action from the behaviour policy
        ``(1 - explore) * pi + explore * uniform`` over its allowed actions, and
        the output's ``logprob`` is then the behaviour policy's: PPO's ratio
        ``pi_new / behaviour`` is the importance weight of the samples (clipped
        as usual), and a move ``pi`` has all but ruled out can still be tried
        and, when it pays, gain probability (up to ``1 + clip`` times its
        behaviour probability in one update). The other outputs are ``pi``'s."""
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore must be in [0, 1], got {explore!r}")
        logits = self.masked_logits(obs, mask)
        behaviour = logits
        if deterministic:
            action = logits.argmax(dim=-1)
        else:
            if explore > 0.0:
                behaviour = self._mixed(logits, mask, explore)
            probs = behaviour.exp().reshape(-1, self.max_actions)
            action = torch.multinomial(probs, 1, generator=generator).view(-1, self.n_heads)
        logprob = _logprob(behaviour, action)
        return action, PolicyOutput(logits, logprob, _entropy(logits), self.value(obs))

    def _mixed(
        self, logits: torch.Tensor, mask: torch.Tensor | None, explore: float
    ) -> torch.Tensor:
        """Log-probabilities of ``pi`` mixed with the uniform policy over the allowed
        actions (forbidden ones stay at -inf-like)."""
        allowed = self.structural_mask.unsqueeze(0).expand_as(logits)
        if mask is not None:
            allowed = allowed & mask.to(torch.bool)
        uniform = allowed.to(logits.dtype) / allowed.sum(dim=-1, keepdim=True)
        mixed = (1.0 - explore) * logits.exp() + explore * uniform
        neg = torch.full_like(logits, torch.finfo(logits.dtype).min)
        return torch.where(allowed, torch.log(mixed), neg)


def _logprob(logits: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    return logits.gather(-1, action.long().unsqueeze(-1)).squeeze(-1).sum(-1)


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    # Masked entries have probability exactly 0; clamping keeps 0 * (-huge)
    # finite (it is 0), whereas 0 * -inf would be NaN.
    probs = logits.exp()
    safe = torch.clamp(logits, min=torch.finfo(logits.dtype).min)
    return -(probs * safe).sum(-1).sum(-1)
