"""`upir cert verify`: exit 0 valid, 1 invalid, 2 unreadable input (DESIGN.md section 5)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from upir.certificates import SigningKey, generate_signing_key, issue_certificate
from upir.cli.main import main
from upir.core import UPIR

DOC: dict[str, Any] = {
    "apiVersion": "upir.dev/v1alpha1",
    "kind": "UPIR",
    "metadata": {"name": "tiny"},
    "spec": {
        "architecture": {
            "components": [{"name": "s", "type": "service", "params": {"replicas": 2}}]
        },
        "specification": {
            "properties": [{"name": "p", "operator": "ALWAYS", "predicate": "s.replicas >= 1"}]
        },
    },
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("UPIR_SIGNING_PUBLIC_KEY", "UPIR_SIGNING_KEY", "UPIR_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture()
def files(tmp_path: Path, key: SigningKey) -> dict[str, Path]:
    u = UPIR.from_resource(DOC)
    signed = issue_certificate(
        u,
        [{"property": "p", "status": "PROVED", "proof": "inductive"}],
        u.param_values(),
        key,
        solver_version="4.15",
        model_version="1",
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    paths = {
        "cert": tmp_path / "cert.json",
        "pub": tmp_path / "pub.pem",
        "priv": tmp_path / "priv.pem",
        "other": tmp_path / "other.pem",
    }
    paths["cert"].write_text(signed.to_json())
    paths["pub"].write_bytes(key.public_key_pem())
    paths["priv"].write_bytes(key.private_key_pem())
    paths["other"].write_bytes(generate_signing_key().public_key_pem())
    return paths


def test_valid_with_trusted_key(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cert", "verify", str(files["cert"]), "--public-key", str(files["pub"])]) == 0
    captured = capsys.readouterr()
    assert "valid: UPIR tiny, 1 properties PROVED" in captured.out
    assert "2026-01-02T03:04:05Z" in captured.out
    assert captured.err == ""


def test_json_output(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], key: SigningKey
) -> None:
    assert (
        main(["cert", "verify", str(files["cert"]), "--public-key", str(files["pub"]), "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True and out["trusted"] is True and out["keyId"] == key.key_id
    assert out["certificate"]["subject"] == {"name": "tiny", "namespace": None}


def test_changed_byte_exits_1(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = files["cert"].read_text()
    i = text.index("PROVED")
    files["cert"].write_text(text[:i] + "V" + text[i + 1 :])
    assert main(["cert", "verify", str(files["cert"]), "--public-key", str(files["pub"])]) == 1
    assert "INVALID: signature does not verify" in capsys.readouterr().out


def test_wrong_key_exits_1(files: dict[str, Path]) -> None:
    assert main(["cert", "verify", str(files["cert"]), "--public-key", str(files["other"])]) == 1


def test_malformed_certificate_exits_1(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["cert"].write_text("{not json")
    assert main(["cert", "verify", str(files["cert"]), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and "not JSON" in out["reason"]


def test_unreadable_input_exits_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cert", "verify", str(tmp_path / "missing.json")]) == 2
    assert "cannot read certificate" in capsys.readouterr().err
    assert (
        main(["cert", "verify", str(files["cert"]), "--public-key", str(tmp_path / "nope.pem")])
        == 2
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    assert main(["cert", "verify", str(files["cert"]), "--public-key", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "public key" in err


def test_key_from_environment(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UPIR_SIGNING_PUBLIC_KEY", str(files["pub"]))
    assert main(["cert", "verify", str(files["cert"]), "--require-trusted"]) == 0
    monkeypatch.delenv("UPIR_SIGNING_PUBLIC_KEY")
    # a private key file yields its public half
    monkeypatch.setenv("UPIR_SIGNING_KEY", str(files["priv"]))
    assert main(["cert", "verify", str(files["cert"]), "--require-trusted"]) == 0
    monkeypatch.setenv("UPIR_SIGNING_PUBLIC_KEY", str(files["other"]))  # the public key wins
    assert main(["cert", "verify", str(files["cert"])]) == 1
    # the option wins over the environment
    assert main(["cert", "verify", str(files["cert"]), "--public-key", str(files["pub"])]) == 0
    capsys.readouterr()


def test_without_a_key_integrity_only(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cert", "verify", str(files["cert"])]) == 0
    assert "--public-key" in capsys.readouterr().err
    assert main(["cert", "verify", str(files["cert"]), "--require-trusted"]) == 1
