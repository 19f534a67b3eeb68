"""Tuning: one loop for the operator, ``upir tune --simulate`` and the benchmark.

One room per concept:

- :mod:`~upir.tuning.step`: one decision window (hold, score, roll back,
  propose, guard, then apply / recommend / keep), the same for every caller;
- :mod:`~upir.tuning.settings`: the settings tree (objective weights, learner,
  model, restart, rollback, hold), validated one way;
- :mod:`~upir.tuning.objective`: the score of a window (``TuningObjective``)
  and the metrics every window must report (``REQUIRED_METRICS``);
- :mod:`~upir.tuning.space`: the parameters' moves (``ParameterSpace``);
- :mod:`~upir.tuning.learner`: the PPO learner (``ArchitectureLearner``): the
  order in which one window goes through the learner's rooms:
  :mod:`~upir.tuning.observation` (what the policy sees),
  :mod:`~upir.tuning.screening` (the moves it may take, screened with the
  guardrail), :mod:`~upir.tuning.credit` (which window rewards which
  proposal), :mod:`~upir.tuning.imagination` (the score model and imagined
  rollouts), :mod:`~upir.tuning.restart` (starting afresh when the load
  jumps) and :mod:`~upir.tuning.checkpoint` (the learner as bytes and back);
- :mod:`~upir.tuning.rl`: PPO itself (config, loss, policy, agent);
- :mod:`~upir.tuning.simulated`: the loop against the simulator, and
  :mod:`~upir.tuning.report` its evaluation and plot.

The guardrail (every candidate through the verifier) and the solver-free
reference audit live next to the verifier: :mod:`upir.verification.guardrail`,
:mod:`upir.verification.reference_audit`.

The package imports nothing itself: its modules pull in PyTorch, which the
``upir`` command loads only when it tunes.
"""
