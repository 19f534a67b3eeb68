"""``benchmarks/simulator.py``, ``benchmarks/simulator_validation.py`` and
``benchmarks/simulator_equivalence.py`` with ``--quick`` run end to end and report
what the full runs report (this checks the machinery, not the figures; the
validation starts the real reference workload; the equivalence benchmark reads
the former engine from the git history and is skipped where a shallow clone
lacks it)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_speed_benchmark(benchmark_script: Callable[[str], ModuleType], tmp_path: Path) -> None:
    assert benchmark_script("simulator").main(["--quick", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "simulator.json").read_text())
    engines = result["engines"]
    # every engine simulates the same M/M/4: mean time in system near Erlang C
    for key in ("general", "simpy"):
        if engines[key] is not None:
            assert engines[key]["value"] == pytest.approx(engines["expected_w_ms"], rel=0.2)
            assert engines[key]["events_per_s"] > 0
    # 20 s of M/M/1 at rho 0.8 is too short for a mean near 50 ms: only sane
    assert 0 < engines["vectorised_mm1"]["value"] < 500
    for section in ("reference_upir", "twenty_components"):
        assert result[section]["general"]["sim_s_per_wall_s"] > 0
    assert result["reference_upir"]["reference_instance"]["sim_s_per_wall_s"] > 0
    assert math.isfinite(result["twenty_components"]["general"]["value"])


def test_validation_benchmark(
    benchmark_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    assert benchmark_script("simulator_validation").main(["--quick", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "simulator_validation.json").read_text())
    assert len(result["cases"]) == 2
    for case in result["cases"]:
        for source in ("real", "reference_instance", "general", "general_told"):
            row = case[source]
            assert set(row) >= {"p50_ms", "p99_ms", "throughput_rps", "error_rate"}
        assert case["real"]["sent"] > 0


def test_equivalence_benchmark(
    benchmark_script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    if not benchmark_script("old_engine").available():
        # the former engine exists only in the git history, which a shallow clone lacks
        pytest.skip("the former engine's commit is not in this checkout (shallow clone)")
    out = tmp_path / "eq.json"
    assert benchmark_script("simulator_equivalence").main(["--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    summary = result["summary"]
    # 3 configurations x the 5 loads of the tuning scenarios, on both engines
    assert summary["general_vs_former"]["cases"] == 15
    assert summary["general_vs_former"]["cost"]["equal"] == 15
    # and one window per configuration on running simulators, per load
    assert summary["trajectory_windows_general_vs_former"]["cases"] == 15
    assert set(summary["scores"]) >= {"steady @ 210 req/s", "shift_cpu @ 300 req/s"}
    assert summary["wall_time_per_window"]["all"]["ratio"] > 0
    for row in result["rows"]:
        for engine in ("general", "former", "former_b"):
            assert math.isfinite(row[engine]["latency_ms"])
