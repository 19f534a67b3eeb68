"""Synthesis: parameter values the verifier proves, by CEGIS, or an explanation
of why none exist (DESIGN.md sections 4-5).

Typical use::

    result = Synthesizer(settings.solver, verifier=verifier).synthesize(upir)
    if result.status is SynthesisStatus.SUCCESS:
        proved = upir.with_params(result.parameters)   # result.report: all PROVED
        envelope = certify(upir, result, signing_key, now=datetime.now(UTC))
    else:
        print(result.status.value, result.explanation)

**Sketch.** Every ``spec.parameters`` entry is a hole with its domain (grid
``min + k*step`` up to ``max``; whole numbers for integer parameters; the real
interval otherwise); every other parameter keeps its value.

**Loop** (:mod:`upir.synthesis.cegis`). Propose the best hole values consistent
with every counterexample so far; verify them for all environments; add the
counterexample of each VIOLATED property; repeat. UNKNOWN/TIMEOUT/ERROR
verdicts only exclude that candidate and never count as proved. A proposal the
verifier proves is re-verified by a fresh verifier before SUCCESS is returned.

**Steady-state refutation** (:mod:`upir.synthesis.steady`). When a queue
invariant (an ALWAYS property over queues) fails or cannot be decided, Z3 is
asked for the *most overloaded* allowed environment whose steady state (filling
queues full) violates it, confirmed with the exact reference model; one such
environment refutes every candidate that cannot drain it, where the verifier's
own counterexample may refute only the one proposed. Once the verifier has
timed out on such a property, every later candidate is checked this way first.

**Counterexample constraints** (:mod:`upir.synthesis.encoding`). A counterexample
is a run (the environment at each step, queues starting empty) the assumptions
allow; the property it refutes must hold on that run for the new values. The
property is encoded with the verifier's own model equations, the holes symbolic
and the environment constant: one step for a stateless property (each step's
environment on its own), the run's steps from empty queues for a stateful one
(a prefix up to the violation for ALWAYS; exactly the bounded horizon for the
other operators). A stateful ALWAYS property refuted on a constant environment
is also required in that environment's *steady state* (every queue with more
inflow than drain full, the rest empty), which refutes every buffer size at
once instead of one per round. These are necessary conditions for ALWAYS at
every reachable step, so an empty proposal space is a real UNSAT. They are
stricter than a *bounded* proof: the verifier may prove an ALWAYS property
``bounded:N`` (or look for the steady state only within 1000 steps) for a queue
so large that a sustained overload fills it only later; synthesis does not
accept such a buffer as a fix.

**Objectives**, minimized lexicographically: (1) ``system.cost``; (2) the
worst-case latency bound the parameters allow: the longest path of
``(retries + 1) * timeout_ms`` per service and ``flush_ms`` per batcher; (3) the
change from the current values, ``sum |value - current| / (top - min)`` over
the holes. An answer is therefore the best of all proved points for these
criteria (the proved points are a subset of the points the proposer considers).
``Synthesizer(objective="change")`` puts (3) first, then (1) and (2)
(:data:`OBJECTIVE_ORDERS`); ``upir synthesize`` does so by default.

**UNSAT explanations** (:mod:`upir.synthesis.explain`): an unsat core over
labelled constraints (one per hole domain, one per property and counterexample
run, one per excluded candidate) mapped back to the parameter domains, the
property names with the environments that refute them, and the assumptions that
allow those environments.
"""

from upir.synthesis.cegis import OBJECTIVE_ORDERS, OBJECTIVES, Synthesizer
from upir.synthesis.certify import certify
from upir.synthesis.results import IterationRecord, SynthesisResult, SynthesisStatus
from upir.synthesis.sketch import MAX_RETRIES_VALUES, Hole, Sketch

__all__ = [
    "MAX_RETRIES_VALUES",
    "OBJECTIVES",
    "OBJECTIVE_ORDERS",
    "Hole",
    "IterationRecord",
    "Sketch",
    "SynthesisResult",
    "SynthesisStatus",
    "Synthesizer",
    "certify",
]
