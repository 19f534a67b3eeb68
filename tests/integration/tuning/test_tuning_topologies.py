"""``benchmarks/tuning_topologies.py --quick`` runs the shared loop on every
example through the general simulator and reports both learners (tiny budgets:
this checks the machinery, not the figures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_quick_topologies(benchmark_script: Callable[[str], ModuleType], tmp_path: Path) -> None:
    module = benchmark_script("tuning_topologies")
    assert module.main(["--quick", "--windows", "9", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "tuning_topologies.json").read_text())
    assert set(result["summary"]) == {
        f"{e}/{p}" for e in module.EXAMPLES for p in ("steady", "shift")
    }
    runs = result["runs"]
    assert {r["method"] for r in runs} == {"plain", "winner"}
    # the winner imagines once its model has 8 windows (steady load: no restart
    # empties it); the plain learner never
    assert all(
        r["imagined"] > 0 for r in runs if r["method"] == "winner" and r["profile"] == "steady"
    )
    assert all(r["imagined"] == 0 for r in runs if r["method"] == "plain")
    # the shift doubles the load at the middle: the winner restarts there
    assert all(
        r["restarts"] >= 1 for r in runs if r["method"] == "winner" and r["profile"] == "shift"
    )
