"""The reinforcement-learning pieces, importable on their own (PyTorch):
:mod:`~upir.tuning.rl.ppo` (config, seeding, GAE, loss),
:mod:`~upir.tuning.rl.policy` (the masked multi-head actor-critic),
:mod:`~upir.tuning.rl.shared` (one network for every parameter) and
:mod:`~upir.tuning.rl.agent` (acting, rollouts, update, checkpoints)."""
