"""Online tuning: a PPO agent (PyTorch) and, around it, the guarded learner.

The PPO pieces are importable on their own: :mod:`upir.learning.ppo` (config,
seeding, GAE, loss), :mod:`upir.learning.policy` (the masked multi-head
actor-critic) and :mod:`upir.learning.agent` (acting, rollouts, update,
checkpoints).

Around them: :class:`ArchitectureLearner` (state, actions, reward, checkpoints;
:mod:`upir.learning.learner`), :class:`Guardrail` (every candidate through the
verifier; :mod:`upir.verification.guardrail`), :class:`TuningObjective` (the score
of a window), :class:`ParameterSpace` (the moves), :class:`IndependentChecker`
(a solver-free audit), and :mod:`upir.learning.simenv` (tuning against the
simulator).
"""

from upir.learning.actions import ParameterSpace
from upir.learning.agent import CheckpointError, PPOAgent, RolloutBuffer
from upir.learning.learner import LEARNER_CONFIG, ArchitectureLearner, LearnerSettings
from upir.learning.objective import ObjectiveWeights, TuningObjective
from upir.learning.policy import DOWN, KEEP, UP, ActorCritic
from upir.learning.ppo import (
    LossStats,
    PPOConfig,
    compute_gae,
    explained_variance,
    ppo_loss,
    seed_everything,
)
from upir.verification.guardrail import Guardrail, GuardrailDecision, GuardrailStats
from upir.verification.reference_audit import IndependentChecker, Violation

__all__ = [
    "DOWN",
    "KEEP",
    "LEARNER_CONFIG",
    "UP",
    "ActorCritic",
    "ArchitectureLearner",
    "CheckpointError",
    "Guardrail",
    "GuardrailDecision",
    "GuardrailStats",
    "IndependentChecker",
    "LearnerSettings",
    "ObjectiveWeights",
    "LossStats",
    "PPOAgent",
    "PPOConfig",
    "ParameterSpace",
    "RolloutBuffer",
    "TuningObjective",
    "Violation",
    "compute_gae",
    "explained_variance",
    "ppo_loss",
    "seed_everything",
]
