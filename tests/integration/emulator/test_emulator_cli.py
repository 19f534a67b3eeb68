"""``python -m upir_e2e.emulator``: serves, writes a kubeconfig, prints the URL, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from upir_e2e.emulator import find_kubectl

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("flags", [[], ["--auth"]], ids=["plain-http", "tls-token"])
def test_server_entry_point(tmp_path: Path, flags: list[str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upir_e2e.emulator",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert server.stdout.readline().strip() == str(kubeconfig)
        assert url.startswith("https://127.0.0.1:" if flags else "http://127.0.0.1:")
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == url
        assert bool(config["users"][0]["user"].get("token")) == bool(flags)
        result = subprocess.run(
            [
                find_kubectl(),
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "get",
                "namespaces",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        assert "namespace/default" in result.stdout.split()
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=15)
    assert server.returncode == 0, err
