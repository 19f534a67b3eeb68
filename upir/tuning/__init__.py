"""Tuning: one loop for the operator, ``upir tune --simulate`` and the benchmark.

- :mod:`upir.tuning.settings`: the settings tree (objective, guardrail, learner,
  model, restart, rollback, hold), validated one way;
- :mod:`upir.tuning.step`: one decision window, pure apart from the learner's
  memory: hold, score, roll back, propose, guard, then apply / recommend / keep.

The package imports nothing heavy itself; its modules pull in PyTorch through the
learner's settings.
"""
