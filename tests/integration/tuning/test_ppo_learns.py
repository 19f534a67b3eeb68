"""A real, tiny PPO run learns a bandit and a control task; with lr = 0 it does not.

Budgets and thresholds (deterministic with the seeds below, single-threaded):

- 5-armed Gaussian bandit (means 0.2 0.5 0.1 0.8 0.4, noise std 0.5): within
  15 updates of 128 pulls the policy puts >= 90% probability on the best arm
  (it starts at 20%; seeds 0-4 reach 90% after 7-8 updates).
- "Move a parameter to its target": positions 0..10, a random start and target,
  actions DOWN/KEEP/UP with the moves off the ends masked, reward
  -|position - target| / 10 per step, episodes truncated after 15 steps (so
  truncation bootstrapping is exercised). Within 40 updates of 256 steps the
  greedy policy's mean return over all 121 (start, target) pairs is >= -1.0;
  the optimum is -0.818 and the untrained policy scores about -4.5
  (seeds 0-5 end between -0.90 and -0.82).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from upir.tuning.rl.agent import PPOAgent
from upir.tuning.rl.policy import DOWN, UP
from upir.tuning.rl.ppo import PPOConfig

pytestmark = pytest.mark.integration

BANDIT_MEANS = np.array([0.2, 0.5, 0.1, 0.8, 0.4])
BEST_ARM = 3
BANDIT_UPDATES = 15
BANDIT_THRESHOLD = 0.9

CHAIN_N = 11
CHAIN_HORIZON = 15
CHAIN_UPDATES = 40
CHAIN_THRESHOLD = -1.0
CHAIN_OPTIMUM = -sum(sum(range(abs(x - t))) for x in range(11) for t in range(11)) / 10 / 121


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def train_bandit(learning_rate: float, seed: int = 0) -> float:
    """Return the best arm's probability after the budget."""
    envs = 8
    cfg = PPOConfig(learning_rate=learning_rate, num_steps=16, hidden_sizes=(16,))
    agent = PPOAgent(1, (5,), cfg, seed=seed)
    rng = np.random.default_rng(seed)
    obs = torch.ones(envs, 1)
    for _ in range(BANDIT_UPDATES):
        buf = agent.new_buffer(num_envs=envs)
        while not buf.full:
            action, logprob, value = agent.act(obs)
            arms = action[:, 0].numpy()
            reward = BANDIT_MEANS[arms] + rng.normal(0.0, 0.5, size=envs)
            # every pull is a one-step episode: terminated, nothing to bootstrap
            buf.add(obs, None, action, logprob, value, torch.tensor(reward), obs, True, False)
        agent.update(buf)
    return float(agent.probabilities(torch.ones(1, 1))[0, 0, BEST_ARM])


class Chain:
    """E copies of the chain, reset independently when their episode is cut off."""

    def __init__(self, envs: int, rng: np.random.Generator) -> None:
        self.rng = rng
        self.x = rng.integers(CHAIN_N, size=envs)
        self.target = rng.integers(CHAIN_N, size=envs)
        self.t = np.zeros(envs, dtype=np.int64)

    def obs(self) -> torch.Tensor:
        return torch.tensor(np.stack([self.x, self.target], 1) / (CHAIN_N - 1), dtype=torch.float32)

    def mask(self) -> torch.Tensor:
        mask = torch.ones(len(self.x), 1, 3, dtype=torch.bool)
        mask[torch.from_numpy(self.x == 0), 0, DOWN] = False
        mask[torch.from_numpy(self.x == CHAIN_N - 1), 0, UP] = False
        return mask

    def step(self, action: np.ndarray) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        moved = self.x + (action - 1)
        assert ((moved >= 0) & (moved < CHAIN_N)).all(), "a masked move was taken"
        self.x = moved
        self.t += 1
        reward = -np.abs(self.x - self.target) / (CHAIN_N - 1)
        next_obs = self.obs()  # before the reset: the truncation state
        cut = self.t >= CHAIN_HORIZON
        n = int(cut.sum())
        self.x[cut] = self.rng.integers(CHAIN_N, size=n)
        self.target[cut] = self.rng.integers(CHAIN_N, size=n)
        self.t[cut] = 0
        return next_obs, reward, cut


def chain_greedy_return(agent: PPOAgent) -> float:
    """Mean return of the deterministic policy over all (start, target) pairs."""
    env = Chain(CHAIN_N * CHAIN_N, np.random.default_rng(0))
    env.x, env.target = (a.ravel() for a in np.meshgrid(np.arange(CHAIN_N), np.arange(CHAIN_N)))
    total = np.zeros(len(env.x))
    for _ in range(CHAIN_HORIZON):
        action, _, _ = agent.act(env.obs(), env.mask(), deterministic=True)
        env.x = env.x + (action[:, 0].numpy() - 1)
        total += -np.abs(env.x - env.target) / (CHAIN_N - 1)
    return float(total.mean())


def train_chain(learning_rate: float, seed: int = 0) -> tuple[PPOAgent, float]:
    envs = 8
    cfg = PPOConfig(
        learning_rate=learning_rate,
        num_steps=32,
        hidden_sizes=(32, 32),
        anneal_lr=True,
        total_updates=CHAIN_UPDATES,
    )
    agent = PPOAgent(2, (3,), cfg, seed=seed)
    env = Chain(envs, np.random.default_rng(seed))
    before = chain_greedy_return(agent)
    for _ in range(CHAIN_UPDATES):
        buf = agent.new_buffer(num_envs=envs)
        while not buf.full:
            obs, mask = env.obs(), env.mask()
            action, logprob, value = agent.act(obs, mask)
            next_obs, reward, cut = env.step(action[:, 0].numpy())
            buf.add(
                obs, mask, action, logprob, value, torch.tensor(reward), next_obs, False,
                torch.from_numpy(cut),
            )  # fmt: skip
        agent.update(buf)
    return agent, before


def test_ppo_learns_bandit() -> None:
    assert train_bandit(3e-3) >= BANDIT_THRESHOLD


def test_bandit_threshold_fails_without_learning() -> None:
    # Same run with a zero learning rate: the policy stays uniform (0.2).
    p = train_bandit(0.0)
    assert p < BANDIT_THRESHOLD
    assert p == pytest.approx(0.2, abs=0.02)


def test_ppo_learns_chain_control_task() -> None:
    agent, before = train_chain(1e-2)
    after = chain_greedy_return(agent)
    assert before < -3.0  # the untrained policy is far from the threshold
    assert after >= CHAIN_THRESHOLD
    assert after <= CHAIN_OPTIMUM + 1e-9  # sanity of the evaluation itself


def test_chain_threshold_fails_without_learning() -> None:
    agent, before = train_chain(0.0)
    after = chain_greedy_return(agent)
    assert after == before
    assert after < CHAIN_THRESHOLD
