"""The real operator (a ``upir-operator`` process) against the project's
Kubernetes API emulator, driven with kubectl. One namespace per test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from upir_e2e.emulator import find_kubectl, start_in_thread

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl_bin = find_kubectl()

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def get(self, kind: str, name: str, ns: str) -> dict[str, Any] | None:
        out = subprocess.run(
            [
                self.kubectl_bin,
                "--kubeconfig",
                str(self.kubeconfig),
                "get",
                kind,
                name,
                "-n",
                ns,
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            return None
        got: dict[str, Any] = json.loads(out.stdout)
        return got

    def wait_for(self, what: str, fn: Callable[[], Any], timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    emu = start_in_thread()
    try:
        c = Cluster(emu.kubeconfig_path)
        c.kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "upir.dev_upirs.yaml"))
        yield c
    finally:
        emu.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", ns)
    yield ns
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


class OperatorProcess:
    def __init__(
        self, cluster: Cluster, namespace: str, extra_env: dict[str, str] | None = None
    ) -> None:
        self.metrics_port = free_port()
        env = dict(os.environ)
        env.update(
            UPIR_NAMESPACE=namespace,
            UPIR_METRICS_PORT=str(self.metrics_port),
            UPIR_HEALTH_PORT=str(free_port()),
            UPIR_RECHECK_SECONDS="3600",
            UPIR_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        self.log = (
            Path(os.environ.get("TMPDIR", "/tmp"))
            / f"upir-operator-{namespace}-{uuid.uuid4().hex[:6]}.log"
        )
        self._fh = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "upir_operator", "--kubeconfig", str(cluster.kubeconfig)],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def operator_factory(cluster: Cluster, namespace: str) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start(**extra_env: str) -> OperatorProcess:
        op = OperatorProcess(cluster, namespace, extra_env)
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()
