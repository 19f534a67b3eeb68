"""``upir synthesize``: JSON shape, exit codes, manifests and certificate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.certificates import generate_signing_key, verify_certificate
from upir.cli.main import main
from upir.core import UPIR
from upir.templates import ANN_CERT_KEY_ID
from upir.verification import Verifier

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CONTRACT_KEYS = ["status", "parameters", "iterations", "timeMs", "explanation"]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPIR_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("UPIR_SIGNING_KEY", raising=False)


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["synthesize", *argv, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_success_json_manifests_and_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    key = generate_signing_key()
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.private_key_pem())
    doc = kit.api_small_doc()
    doc["spec"]["target"] = {"deployment": "gw", "configMap": "gw-params"}
    out_dir = tmp_path / "out"
    code, data, _ = _run(
        capsys,
        _write(tmp_path, doc),
        "--out-dir",
        str(out_dir),
        "--signing-key",
        str(key_file),
        "--objective",
        "cost",
    )
    assert code == 0
    assert list(data)[:5] == CONTRACT_KEYS
    assert data["status"] == "SUCCESS"
    assert data["parameters"] == {"gw.timeout_ms": 100, "gw.retries": 2}
    assert data["iterations"] >= 1 and data["timeMs"] > 0 and "PROVED" in data["explanation"]
    files = sorted(Path(f).name for f in data["files"])
    assert files == [
        "00-configmap-gw-params.yaml",
        "01-deployment-gw.yaml",
        "02-service-gw-upir.yaml",
        "03-poddisruptionbudget-gw-upir.yaml",
        "certificate.json",
        "upir.yaml",
    ]
    # the certificate verifies against the key and covers the synthesized values
    envelope = (out_dir / "certificate.json").read_text(encoding="utf-8")
    check = verify_certificate(envelope, key.public_key_pem())
    assert check.valid and check.trusted and check.certificate is not None
    assert check.certificate.parameters["gw.timeout_ms"] == 100
    assert check.certificate.parameters["gw.retries"] == 2
    assert data["certificate"]["keyId"] == key.key_id
    config_map = yaml.safe_load(
        (out_dir / "00-configmap-gw-params.yaml").read_text(encoding="utf-8")
    )
    assert config_map["data"]["gw.retries"] == "2"
    assert config_map["metadata"]["annotations"][ANN_CERT_KEY_ID] == key.key_id
    # the written resource carries the values and verifies
    written = UPIR.from_resource(
        yaml.safe_load((out_dir / "upir.yaml").read_text(encoding="utf-8"))
    )
    assert written.tunable_values() == {"gw.timeout_ms": 100, "gw.retries": 2}
    assert Verifier(kit.settings).verify(written).passed


def test_signing_key_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kit: Any
) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(generate_signing_key().private_key_pem())
    monkeypatch.setenv("UPIR_SIGNING_KEY", str(key_file))
    code, data, _ = _run(capsys, _write(tmp_path, kit.api_small_doc()))
    assert code == 0 and data["certificate"] is not None and data["files"] == []


def test_unsat_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    out_dir = tmp_path / "out"
    path = _write(tmp_path, kit.api_small_doc(latency_max=100, availability_min=0.99999))
    code, data, err = _run(capsys, path, "--out-dir", str(out_dir))
    assert code == 1
    assert list(data)[:5] == CONTRACT_KEYS
    assert data["status"] == "UNSAT" and data["parameters"] == {}
    assert (
        "constraint.latency_ms" in data["explanation"]
        or "constraint.availability" in data["explanation"]
    )
    assert not out_dir.exists() and "nothing written" in err


def test_partial_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any) -> None:
    code, data, _ = _run(
        capsys,
        _write(tmp_path, kit.api_small_doc()),
        "--max-iterations",
        "1",
        "--objective",
        "cost",
    )
    assert code == 1 and data["status"] == "PARTIAL"
    assert data["bestCandidate"] == {"gw.timeout_ms": 50, "gw.retries": 0}
    assert data["violated"] == ["constraint.availability"]


def test_timeout_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any) -> None:
    code, data, _ = _run(capsys, _write(tmp_path, kit.api_small_doc()), "--timeout-ms", "1")
    assert code == 3 and data["status"] == "TIMEOUT"


def test_invalid_input_exits_2_with_invalid_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    doc = kit.api_small_doc()
    doc["spec"]["specification"]["constraints"]["latency_ms"] = {"max": "fast"}
    code, data, err = _run(capsys, _write(tmp_path, doc))
    assert code == 2 and data["status"] == "INVALID_SPEC" and data["parameters"] == {}
    assert "latency_ms" in data["explanation"] and "latency_ms" in err
    assert "Traceback" not in err
    code, data, err = _run(capsys, str(tmp_path / "missing.yaml"))
    assert code == 2 and data["status"] == "INVALID_SPEC" and "cannot read file" in err


def test_contradictory_assumptions_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    doc = kit.api_small_doc()
    doc["spec"]["specification"]["assumptions"] += ["env.gw_service_ms >= 100"]
    code, data, err = _run(capsys, _write(tmp_path, doc))
    assert code == 2 and data["status"] == "INVALID_SPEC"
    assert "assumptions allow no environment" in data["explanation"]
    assert "assumptions allow no environment" in err


def test_unreadable_signing_key_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    bad = tmp_path / "key.pem"
    bad.write_text("not a key", encoding="utf-8")
    code, data, err = _run(capsys, _write(tmp_path, kit.api_small_doc()), "--signing-key", str(bad))
    assert code == 2 and data["status"] == "INVALID_SPEC" and "signing key" in err


def test_human_output_on_the_api_example(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synthesize", str(EXAMPLES / "api-service.yaml"), "--objective", "cost"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "SUCCESS after 2 iteration(s)" in out
    assert "gateway.retries = 1" in out and "PROVED    no_loss" in out


def test_least_change_is_the_default_and_cost_first_is_offered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the case: timeout_ms 800 x (2 + 1) retries breaks the 2000 ms budget;
    # cost first moved timeout_ms to its minimum, 50; the least change is 660
    doc = yaml.safe_load((EXAMPLES / "api-service.yaml").read_text(encoding="utf-8"))
    doc["spec"]["architecture"]["components"][0]["params"]["timeout_ms"] = 800
    path = _write(tmp_path, doc)
    code, change, _ = _run(capsys, path)
    assert code == 0 and change["objectiveOrder"][0] == "change"
    assert change["parameters"]["gateway.timeout_ms"] == 660
    assert change["parameters"]["gateway.retries"] == 2
    assert change["parameters"]["orders.capacity"] == 5000
    code, cost, _ = _run(capsys, path, "--objective", "cost")
    assert code == 0 and cost["objectiveOrder"][0] == "cost"
    assert cost["objective"]["cost"] <= change["objective"]["cost"]
    assert cost["objective"]["change"] > change["objective"]["change"]


def test_current_values_that_pass_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kit: Any
) -> None:
    doc = kit.api_small_doc()
    code, data, _ = _run(capsys, _write(tmp_path, doc))
    assert code == 0 and data["parameters"] == {"gw.timeout_ms": 200, "gw.retries": 3}
    assert data["objective"]["change"] == 0
