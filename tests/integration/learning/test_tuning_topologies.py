"""``benchmarks/tuning_topologies.py --quick`` runs the shared loop on every
example through the general simulator and reports both learners (tiny budgets:
this checks the machinery, not the figures)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "tuning_topologies.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("tuning_topologies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_topologies(tmp_path: Path) -> None:
    module = _load()
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
