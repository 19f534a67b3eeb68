"""Online tuning: a PPO agent (PyTorch) and, around it, the guarded learner.

The PPO pieces are importable on their own: :mod:`upir.learning.ppo` (config,
seeding, GAE, loss), :mod:`upir.learning.policy` (the masked multi-head
actor-critic) and :mod:`upir.learning.agent` (acting, rollouts, update,
checkpoints).
"""

from upir.learning.agent import CheckpointError, PPOAgent, RolloutBuffer
from upir.learning.policy import DOWN, KEEP, UP, ActorCritic
from upir.learning.ppo import (
    LossStats,
    PPOConfig,
    compute_gae,
    explained_variance,
    ppo_loss,
    seed_everything,
)

__all__ = [
    "DOWN",
    "KEEP",
    "UP",
    "ActorCritic",
    "CheckpointError",
    "LossStats",
    "PPOAgent",
    "PPOConfig",
    "RolloutBuffer",
    "compute_gae",
    "explained_variance",
    "ppo_loss",
    "seed_everything",
]
