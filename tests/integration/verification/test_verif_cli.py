"""``upir verify FILE [--json]``: verdicts, counterexamples and exit codes
(DESIGN.md section 5), through the real command line entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.cli.main import main
from upir.core import UPIR
from upir.verification import Counterexample, replay

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "UPIR_Z3_TIMEOUT",
        "UPIR_CACHE_SIZE",
        "UPIR_BMC_STEPS",
        "UPIR_CONFIG",
        "UPIR_LOG_LEVEL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "upir.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _violating(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    doc = yaml.safe_load((EXAMPLES / "api-service.yaml").read_text())
    doc["spec"]["specification"]["properties"][0]["predicate"] = "gateway.latency_ms <= 100"
    return _write(tmp_path, doc), doc


def test_all_proved_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(EXAMPLES / "api-service.yaml")]) == 0
    out = capsys.readouterr().out
    assert "PROVED    no_loss" in out and "6 proved" in out


def test_json_has_the_contract_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(EXAMPLES / "batch-job.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "PROVED"
    for r in data["results"]:
        assert {"property", "status", "counterexample", "timeMs", "cached", "proof"} <= r.keys()
        assert r["status"] == "PROVED" and r["counterexample"] is None


def test_violation_exits_1_with_a_replayable_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, doc = _violating(tmp_path)
    assert main(["verify", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    (fast,) = [r for r in data["results"] if r["property"] == "fast"]
    assert fast["status"] == "VIOLATED"
    cex = Counterexample.from_json(fast["counterexample"])
    upir = UPIR.from_resource(doc)
    (prop,) = [p for p in upir.specification.all_properties() if p.name == "fast"]
    assert replay(upir, prop, cex)
    assert cex.env[0]["env.gateway_service_ms"] > 100 / 3
    assert main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        "VIOLATED  fast" in out and "counterexample: " in out and "env.gateway_service_ms=" in out
    )


def test_invalid_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load((EXAMPLES / "api-service.yaml").read_text())
    doc["spec"]["specification"]["invariants"][0]["predicate"] = "orders.nothing == 0"
    assert main(["verify", str(_write(tmp_path, doc))]) == 2
    assert "orders.nothing" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.yaml")]) == 2


def test_timeout_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    comps = [
        {
            "name": f"s{i}",
            "type": "service",
            "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 3},
        }
        for i in range(6)
    ]
    doc = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "hard"},
        "spec": {
            "architecture": {
                "components": comps,
                "connections": [{"from": f"s{i}", "to": f"s{i + 1}"} for i in range(5)],
            },
            "specification": {
                "assumptions": [f"env.s{i}_failure_rate <= 0.1" for i in range(6)],
                "constraints": {"availability": {"min": 0.99999}},
            },
        },
    }
    monkeypatch.setenv("UPIR_Z3_TIMEOUT", "1")
    assert main(["verify", str(_write(tmp_path, doc)), "--no-compose", "--json"]) == 3
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["status"] == "TIMEOUT"
