"""The PPO agent: acting, a rollout buffer, the update, and byte checkpoints.

Usage (one environment, or ``E`` in lock-step)::

    agent = PPOAgent(obs_dim, action_dims=(3,) * n_params, config=cfg, seed=0)
    buffer = agent.new_buffer(num_envs=1)
    while not buffer.full:
        action, logprob, value = agent.act(obs, mask)
        next_obs, reward, terminated, truncated = env.step(action)
        buffer.add(obs, mask, action, logprob, value, reward, next_obs, terminated, truncated)
        obs = reset(next_obs) if terminated or truncated else next_obs
    diagnostics = agent.update(buffer)      # clears the buffer

``next_obs`` is the state the step reached *before* any reset, so a step cut
off by a time limit bootstraps from the value of the state it was cut off in
(see :func:`upir.tuning.rl.ppo.compute_gae`).

The agent owns its random generator (weights' init, sampling, minibatch order),
so two agents with the same seed act identically whatever else the process does,
and a checkpoint restores the generator too: a restored agent continues the
exact same action sequence.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import torch

from upir.errors import PermanentError, SettingsError
from upir.tuning.rl.policy import ActorCritic
from upir.tuning.rl.ppo import LossStats, PPOConfig, compute_gae, explained_variance, ppo_loss

__all__ = ["CheckpointError", "PPOAgent", "RolloutBuffer"]

CHECKPOINT_FORMAT = "upir.ppo/1"


class CheckpointError(PermanentError):
    """A checkpoint could not be read (corrupt, foreign, or of another shape)."""


class RolloutBuffer:
    """Fixed-size storage of ``num_steps`` x ``num_envs`` transitions."""

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, n_heads: int, max_actions: int):
        if num_steps < 1 or num_envs < 1:
            raise ValueError("num_steps and num_envs must be >= 1")
        self.num_steps = num_steps
        self.num_envs = num_envs
        t, e = num_steps, num_envs
        self.obs = torch.zeros(t, e, obs_dim)
        self.next_obs = torch.zeros(t, e, obs_dim)
        self.masks = torch.ones(t, e, n_heads, max_actions, dtype=torch.bool)
        self.actions = torch.zeros(t, e, n_heads, dtype=torch.long)
        self.logprobs = torch.zeros(t, e)
        self.values = torch.zeros(t, e)
        self.rewards = torch.zeros(t, e)
        self.terminated = torch.zeros(t, e)
        self.truncated = torch.zeros(t, e)
        self.pos = 0

    @property
    def full(self) -> bool:
        """True once ``num_steps`` transitions have been added."""
        return self.pos >= self.num_steps

    def __len__(self) -> int:
        return self.pos

    def add(
        self,
        obs: torch.Tensor,
        mask: torch.Tensor | None,
        action: torch.Tensor,
        logprob: torch.Tensor,
        value: torch.Tensor,
        reward: torch.Tensor | float | Sequence[float],
        next_obs: torch.Tensor,
        terminated: torch.Tensor | bool | Sequence[bool],
        truncated: torch.Tensor | bool | Sequence[bool],
    ) -> None:
        """Store one step of every environment (leading dimension ``num_envs``).

        ``mask`` is the mask the action was drawn under (None: all allowed); the
        update must evaluate the new policy under the same mask, or the
        probability ratios would compare different distributions. A scalar
        ``reward``, ``terminated`` or ``truncated`` applies to every environment.
        """
        if self.full:
            raise ValueError("rollout buffer is full; call update() first")
        e = self.num_envs
        i = self.pos
        self.obs[i] = torch.as_tensor(obs, dtype=torch.float32).reshape(e, -1)
        self.next_obs[i] = torch.as_tensor(next_obs, dtype=torch.float32).reshape(e, -1)
        if mask is None:
            self.masks[i] = True
        else:
            self.masks[i] = torch.as_tensor(mask, dtype=torch.bool).reshape(self.masks[i].shape)
        self.actions[i] = torch.as_tensor(action).reshape(e, -1)
        self.logprobs[i] = torch.as_tensor(logprob, dtype=torch.float32).reshape(e)
        self.values[i] = torch.as_tensor(value, dtype=torch.float32).reshape(e)
        self.rewards[i] = _per_env(reward, e)
        self.terminated[i] = _per_env(terminated, e)
        self.truncated[i] = _per_env(truncated, e)
        self.pos += 1

    def clear(self) -> None:
        self.pos = 0


def _per_env(
    value: torch.Tensor | float | bool | Sequence[float] | Sequence[bool], e: int
) -> torch.Tensor:
    """A (num_envs,) float tensor; a scalar applies to every environment."""
    t = torch.as_tensor(value, dtype=torch.float32)
    return t.expand(e) if t.numel() == 1 else t.reshape(e)


class PPOAgent:
    """PPO over a multi-head categorical policy (see :class:`ActorCritic`)."""

    def __init__(
        self,
        obs_dim: int,
        action_dims: Sequence[int],
        config: PPOConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config if config is not None else PPOConfig()
        self.generator = torch.Generator()
        self.generator.manual_seed(int(seed))
        self.seed = int(seed)
        self.net = ActorCritic(obs_dim, action_dims, self.config.hidden_sizes, self.generator)
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=self.config.learning_rate, eps=self.config.adam_eps
        )
        self.updates_done = 0
        """Number of completed :meth:`update` calls (drives LR annealing)."""

    @property
    def obs_dim(self) -> int:
        return self.net.obs_dim

    @property
    def action_dims(self) -> tuple[int, ...]:
        return self.net.action_dims

    def new_buffer(self, num_envs: int = 1, num_steps: int | None = None) -> RolloutBuffer:
        """An empty buffer shaped for this agent (``num_steps`` defaults to the config's)."""
        return RolloutBuffer(
            num_steps if num_steps is not None else self.config.num_steps,
            num_envs,
            self.net.obs_dim,
            self.net.n_heads,
            self.net.max_actions,
        )

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        mask: torch.Tensor | None = None,
        deterministic: bool = False,
        explore: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Choose actions for a batch of observations.

        ``obs`` is (B, obs_dim) (a single (obs_dim,) vector is treated as B=1);
        ``mask`` is (B, H, A) booleans, True = allowed. Returns ``(action (B, H)
        long, logprob (B,), value (B,))``; ``deterministic`` takes each head's
        most likely allowed action instead of sampling (evaluation).
        ``explore`` in [0, 1] samples from the policy mixed with that share of
        uniform choice, and ``logprob`` is then the mixture's
        (:meth:`upir.tuning.rl.policy.ActorCritic.sample`).
        """
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        if obs_t.ndim == 1:
            obs_t = obs_t.unsqueeze(0)
        mask_t = None
        if mask is not None:
            mask_t = torch.as_tensor(mask, dtype=torch.bool)
            if mask_t.ndim == 2:
                mask_t = mask_t.unsqueeze(0)
        action, out = self.net.sample(obs_t, mask_t, self.generator, deterministic, explore)
        return action, out.logprob, out.value

    @torch.no_grad()
    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """(B,) critic estimates."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        return self.net.value(obs_t if obs_t.ndim > 1 else obs_t.unsqueeze(0))

    @torch.no_grad()
    def probabilities(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, H, A) action probabilities (diagnostics and tests)."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        obs_t = obs_t if obs_t.ndim > 1 else obs_t.unsqueeze(0)
        return self.net.masked_logits(obs_t, mask).exp()

    def current_lr(self) -> float:
        """The learning rate the next update will use."""
        cfg = self.config
        if not cfg.anneal_lr or cfg.total_updates is None:
            return cfg.learning_rate
        frac = max(0.0, 1.0 - self.updates_done / cfg.total_updates)
        return cfg.learning_rate * frac

    @torch.no_grad()
    def rescore(self, buffer: RolloutBuffer) -> None:
        """Replace the stored log-probabilities and values of ``buffer``'s
        transitions by the current policy's and critic's.

        For a learner that also updates between rollouts (on imagined data), the
        transitions were drawn under older policies; without this the clipped
        ratios of the next update would mostly discard them."""
        n = buffer.pos
        if n == 0:
            return
        out = self.net.evaluate(
            buffer.obs[:n].reshape(-1, self.net.obs_dim),
            buffer.masks[:n].reshape(-1, self.net.n_heads, self.net.max_actions),
            buffer.actions[:n].reshape(-1, self.net.n_heads),
        )
        buffer.logprobs[:n] = out.logprob.reshape(n, buffer.num_envs)
        buffer.values[:n] = out.value.reshape(n, buffer.num_envs)

    def update(self, buffer: RolloutBuffer) -> dict[str, float]:
        """Run the PPO update on a buffer's transitions, then clear the buffer.

        Returns diagnostics averaged over the minibatches evaluated (including
        the one that triggered a target-KL stop): ``pg_loss``, ``v_loss``,
        ``entropy``, ``approx_kl``, ``clipfrac``; and ``explained_variance``
        (of the rollout's values against its returns), ``lr``, ``epochs``
        (epochs started, fewer on a target-KL stop), ``early_stop`` (1.0 or
        0.0), ``minibatches`` (gradient steps taken), ``samples``.
        """
        if len(buffer) == 0:
            raise ValueError("cannot update on an empty buffer")
        cfg = self.config
        n = buffer.pos
        with torch.no_grad():
            flat_next = buffer.next_obs[:n].reshape(-1, self.net.obs_dim)
            next_values = self.net.value(flat_next).reshape(n, buffer.num_envs)
            advantages, returns = compute_gae(
                buffer.rewards[:n],
                buffer.values[:n],
                next_values,
                buffer.terminated[:n],
                buffer.truncated[:n],
                cfg.gamma,
                cfg.gae_lambda,
            )
        b_obs = buffer.obs[:n].reshape(-1, self.net.obs_dim)
        b_masks = buffer.masks[:n].reshape(-1, self.net.n_heads, self.net.max_actions)
        b_actions = buffer.actions[:n].reshape(-1, self.net.n_heads)
        b_logprobs = buffer.logprobs[:n].reshape(-1)
        b_values = buffer.values[:n].reshape(-1)
        b_adv = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        batch = b_obs.shape[0]
        mb_size = max(1, batch // cfg.num_minibatches)

        lr = self.current_lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals: dict[str, float] = {f.name: 0.0 for f in fields(LossStats)}
        minibatches = 0
        evaluated = 0
        epochs = 0
        early_stop = False
        for _ in range(cfg.update_epochs):
            order = torch.randperm(batch, generator=self.generator)
            for start in range(0, batch, mb_size):
                idx = order[start : start + mb_size]
                out = self.net.evaluate(b_obs[idx], b_masks[idx], b_actions[idx])
                loss, stats = ppo_loss(
                    out.logprob,
                    b_logprobs[idx],
                    b_adv[idx],
                    out.value,
                    b_values[idx],
                    b_returns[idx],
                    out.entropy,
                    cfg,
                )
                for key in totals:
                    totals[key] += getattr(stats, key)
                evaluated += 1
                if cfg.target_kl is not None and stats.approx_kl > cfg.target_kl:
                    # Stop before stepping: this minibatch's policy has already
                    # drifted past the trust region the rollout supports.
                    early_stop = True
                    break
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                minibatches += 1
            epochs += 1
            if early_stop:
                break
        buffer.clear()
        self.updates_done += 1
        diagnostics = {k: v / evaluated for k, v in totals.items()}
        diagnostics.update(
            explained_variance=explained_variance(b_values, b_returns),
            lr=lr,
            epochs=float(epochs),
            early_stop=1.0 if early_stop else 0.0,
            minibatches=float(minibatches),
            samples=float(batch),
        )
        return diagnostics

    # -- checkpoints -------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer, config, RNG, counters."""
        return {
            "format": CHECKPOINT_FORMAT,
            "obs_dim": self.net.obs_dim,
            "action_dims": list(self.net.action_dims),
            "config": self.config.to_dict(),
            "seed": self.seed,
            "updates_done": self.updates_done,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output into an agent of the same shape."""
        try:
            if state.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(f"not a {CHECKPOINT_FORMAT} checkpoint")
            if int(state["obs_dim"]) != self.net.obs_dim or tuple(state["action_dims"]) != tuple(
                self.net.action_dims
            ):
                raise CheckpointError(
                    f"checkpoint is for obs_dim={state['obs_dim']} action_dims="
                    f"{tuple(state['action_dims'])}, agent has obs_dim={self.net.obs_dim} "
                    f"action_dims={self.net.action_dims}"
                )
            config = PPOConfig.from_dict(dict(state["config"]))
            if config.hidden_sizes != self.config.hidden_sizes:
                raise CheckpointError("checkpoint's hidden_sizes differ from the agent's")
            self.net.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, SettingsError) as exc:
            raise CheckpointError(f"unreadable checkpoint: {exc}") from None
        self.config = config
        self.seed = int(state["seed"])
        self.updates_done = int(state["updates_done"])

    def to_bytes(self) -> bytes:
        """The checkpoint as bytes (``torch.save`` format), for the operator to persist."""
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PPOAgent:
        """Rebuild an agent from :meth:`to_bytes` output.

        Loads with ``weights_only=True``: a checkpoint can only hold tensors and
        plain containers, never code, so a tampered blob cannot execute anything.
        """
        try:
            state = torch.load(io.BytesIO(data), weights_only=True)
            if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(f"not a {CHECKPOINT_FORMAT} checkpoint")
            config = PPOConfig.from_dict(dict(state["config"]))
            agent = cls(
                int(state["obs_dim"]), tuple(state["action_dims"]), config, int(state["seed"])
            )
        except CheckpointError:
            raise
        except Exception as exc:  # torch.load raises many types on garbage input
            raise CheckpointError(f"unreadable checkpoint: {exc}") from None
        agent.load_state_dict(state)
        return agent
