"""scripts/tools.sh: idempotent, fast when the tools are present, and it leaves a
working helm (the pinned version) and kubectl in .tools/bin."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_second_run_is_a_fast_no_op(tools_bin: Path) -> None:
    helm = tools_bin / "helm"
    before = helm.stat().st_mtime_ns
    started = time.monotonic()
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "tools.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert time.monotonic() - started < 5
    assert out.stdout.strip() == str(tools_bin)
    assert "installing" not in out.stderr
    assert helm.stat().st_mtime_ns == before


def test_tools_run(tools_bin: Path) -> None:
    script = (ROOT / "scripts" / "tools.sh").read_text()
    pinned = script.split('UPIR_HELM_VERSION="', 1)[1].split('"', 1)[0]
    helm = subprocess.run(
        [str(tools_bin / "helm"), "version", "--short"], capture_output=True, text=True, check=True
    )
    assert helm.stdout.startswith(pinned)
    kubectl = subprocess.run(
        [str(tools_bin / "kubectl"), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"gitVersion"' in kubectl.stdout
