"""Synthesis against brute force on small domains, with the real verifier.

Every point of each domain is verified; then every SUCCESS must be one of the
proved points (re-verified by a fresh verifier, and, when the optimizer
finished, the lexicographic optimum of them), and every UNSAT must have none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from upir.core import UPIR
from upir.synthesis import Sketch, SynthesisStatus, Synthesizer
from upir.synthesis.encoding import objective_values
from upir.verification import Structure, Verdict, Verifier

pytestmark = pytest.mark.integration

CASES: dict[str, tuple[Callable[[Any], UPIR], bool]] = {
    "api": (lambda k: k.api_small(), True),
    "api-unsat": (lambda k: k.api_small(latency_max=100, availability_min=0.99999), False),
    "queue": (lambda k: k.queue_small(), True),
    "queue-unsat": (lambda k: k.queue_small(capacity_max=200, arrival_max=2000), False),
    "batch": (lambda k: k.batch_small(), True),
    "batch-unsat": (lambda k: k.batch_small(wait_max=5), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_answer_agrees_with_brute_force(case: str, kit: Any) -> None:
    build, satisfiable = CASES[case]
    upir = build(kit)
    result = Synthesizer(kit.settings).synthesize(upir)
    proved = kit.proved_points(upir)
    assert bool(proved) is satisfiable  # the case is what its name says
    if not satisfiable:
        assert result.status is SynthesisStatus.UNSAT, result.explanation
        assert result.parameters == {}
        assert result.explanation.startswith("no values of ")
        names = {p.name for p in upir.specification.all_properties()}
        assert any(name in result.explanation for name in names)
        return
    assert result.status is SynthesisStatus.SUCCESS, result.explanation
    params = dict(result.parameters)
    assert params in proved
    # the report is a fresh full verification, and it says PROVED everywhere
    assert result.report is not None
    assert [r.status for r in result.report.results] == [Verdict.PROVED] * len(
        result.report.results
    )
    assert not any(r.cached for r in result.report.results)
    again = Verifier(kit.settings).verify(upir.with_params(params))
    assert again.passed
    sketch = Sketch.from_upir(upir)
    st = Structure(upir.architecture)

    def key(values: dict[str, Any]) -> tuple[Any, ...]:
        o = objective_values(sketch, st, values)
        return (o["cost"], o["latency_bound_ms"], o["change"])

    if result.optimal:
        assert key(params) == min(key(p) for p in proved)


def test_a_counterexample_round_is_needed_and_shown(kit: Any) -> None:
    result = Synthesizer(kit.settings).synthesize(kit.queue_small())
    assert result.status is SynthesisStatus.SUCCESS
    assert result.iterations > 1
    assert result.history[0].failed == ("no_loss",)
    assert result.history[0].new_counterexamples >= 1
    assert result.counterexamples >= result.iterations - 1
