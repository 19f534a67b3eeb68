"""``benchmarks/conformance.py`` end to end on a few configurations: every
generated configuration it keeps is PROVED, every run is compared quantity by
quantity, and the p99 latencies and drops it measures stay within what was
proved (a small instance of the full run in docs/benchmarks.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import Verdict, Verifier

pytestmark = pytest.mark.integration


def test_small_run(
    benchmark_script: Callable[[str], ModuleType],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = benchmark_script("conformance")
    out = tmp_path / "conformance.json"
    assert module.main(["--configs", "3", "--seconds", "5", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["configs"] == 3 and result["examples"] == 3
    assert result["runs"] == (3 + 3) * 4  # two loads x two environments each
    per = result["per_quantity"]
    # every run compares (a short run may leave a window without answers)
    for key in ("service.p99_ms", "system.p99_ms", "service.availability", "system.availability"):
        assert per[key]["checks"] >= result["runs"] // 2, key
    for key in ("service.p99_ms", "system.p99_ms", "queue.dropped_per_step"):
        if key in per:
            assert per[key]["beyond"] == 0, [
                b for b in result["beyond"] if key.endswith(b["metric"])
            ]
    assert 0 < result["p99_over_bound"]["system"]["max"] < 1
    assert "overall (claimed quantities)" in capsys.readouterr().out


def test_generated_configurations_are_proved(benchmark_script: Callable[[str], ModuleType]) -> None:
    import random

    module = benchmark_script("conformance")
    rng = random.Random(3)
    verifier = Verifier(SolverSettings())
    kept = 0
    for index in range(9):
        doc = module.generate(rng, module.TEMPLATES[index % 3], index)
        if doc is None:
            continue
        upir = UPIR.from_resource(doc)
        report = verifier.verify(upir)
        if all(r.status is Verdict.PROVED for r in report.results):
            kept += 1
            # the slowest corner narrows the assumptions inside what was proved
            slow = UPIR.from_resource(module.slowest(doc))
            assert len(slow.specification.assumptions) == len(upir.specification.assumptions)
    assert kept >= 3
