"""``upir tune --simulate`` on any UPIR of the core component types: every
example and a generated instance of every built-in family tunes against its own
architecture (real Z3 guardrail, real PyTorch, the general simulator); the
reference workload's shape keeps its calibrated model."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml

from upir.cli.common import read_one_upir
from upir.cli.main import main
from upir.patterns.builtin import BUILTINS
from upir.patterns.generate import family_instance
from upir.simulator import GraphSimulator, LoadProfile
from upir.simulator.reference import WORKER_FAILURE_RATE, WORKER_TIME
from upir.tuning.simulated import SimulatedWorkload, is_reference_workload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(ROOT.glob("examples/*.yaml")) + [
    ROOT / "examples/reference-workload/k8s/upir.yaml"
]
SHORT = ["--simulate", "--episodes", "1", "--windows", "3", "--window-s", "1", "--seed", "2"]


def _tune(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, object]:
    code = main(["tune", str(path), *SHORT, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    result: dict[str, object] = json.loads(out.out)
    return result


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_example_tunes_against_its_own_architecture(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _tune(capsys, path)
    upir = read_one_upir(str(path))
    assert result["status"] == "OK"
    final = result["final"]
    assert isinstance(final, dict)
    assert list(final["parameters"]) == [d.name for d in upir.parameters]
    assert final["metrics"]["throughput_rps"] > 0


@pytest.mark.parametrize("family", BUILTINS, ids=lambda f: f.id)
def test_generated_upirs_of_every_family_tune(
    family: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = family_instance(family, np.random.default_rng(7))  # type: ignore[arg-type]
    path = tmp_path / "gen.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = _tune(capsys, path)
    assert result["status"] == "OK"


def test_api_service_simulates_the_system_its_file_describes() -> None:
    upir = read_one_upir(str(ROOT / "examples/api-service.yaml"))
    assert not is_reference_workload(upir)
    wl = SimulatedWorkload(upir, LoadProfile.steady(200), seed=0, window_s=2)
    assert isinstance(wl.graph, GraphSimulator)
    assert [c.name for c in wl.graph.comps] == ["gateway", "orders", "fulfil"]
    metrics = wl.run({"gateway.retries": Fraction(1)})
    assert metrics["throughput_rps"] > 100
    assert wl.graph.network.node("gateway").value("retries") == 1  # the value applied


def test_the_reference_shape_runs_as_the_calibrated_instance() -> None:
    upir = read_one_upir(str(ROOT / "benchmarks/tuning_upir.yaml"))
    assert is_reference_workload(upir)
    wl = SimulatedWorkload(upir, LoadProfile.steady(100), seed=0, window_s=1, cores={"worker": 2})
    net = wl.graph.network
    # told what the UPIR cannot say: the gateway calls the pipeline and does no
    # work of its own; a batch of k items takes 20 + 5 k + Exponential(5) ms
    assert net.node("gateway").calls and net.node("gateway").failure_rate == 0.0
    assert net.node("worker").service_time == WORKER_TIME
    assert net.node("worker").failure_rate == WORKER_FAILURE_RATE
    assert net.node("worker").cores == 2
    assert wl.graph.max_in_flight == 512  # the load generator's cap
    metrics = wl.run(upir.tunable_values())
    assert metrics["throughput_rps"] > 50 and metrics["cost"] == 7.0
