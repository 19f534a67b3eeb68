"""The real operator (a ``upir-operator`` process) against the project's
Kubernetes API emulator, driven with kubectl. One namespace per test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from upir_e2e.emulator import start_in_thread
from upir_e2e.stack import Kubectl, OperatorProcess, wait_for

ROOT = Path(__file__).resolve().parents[3]


class Cluster:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._kubectl = Kubectl(kubeconfig)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self._kubectl(*args, input=input, check=check)

    def get(self, kind: str, name: str, ns: str) -> dict[str, Any] | None:
        return self._kubectl.get(kind, name, ns)

    def wait_for(self, what: str, fn: Callable[[], Any], timeout: float = 60.0) -> Any:
        return wait_for(what, fn, timeout, period_s=0.3)


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


@pytest.fixture
def operator_factory(cluster: Cluster, namespace: str) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []
    logs = Path(tempfile.mkdtemp(prefix="upir-operator-test-"))

    def start(**extra_env: str) -> OperatorProcess:
        env = {"UPIR_RECHECK_SECONDS": "3600", **extra_env}
        op = OperatorProcess(
            cluster.kubeconfig, namespace, logs / f"operator-{len(started)}.log", **env
        )
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


GatewayDoc = Callable[..., dict[str, Any]]


def gateway_doc(
    name: str,
    timeout_ms: int = 300,
    retries: int = 2,
    *,
    mode: str | None = None,
    replicas: int = 2,
    target: dict[str, str] | None = None,
    tunable: bool = True,
) -> dict[str, Any]:
    """A one-service UPIR whose only property involves parameters alone, so its
    verdict is plain arithmetic: ``timeout_ms * (retries + 1) <= 2000``."""
    doc: dict[str, Any] = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": {
            "systemType": "api",
            "architecture": {
                "components": [
                    {
                        "name": "gateway",
                        "type": "service",
                        "params": {
                            "replicas": replicas,
                            "concurrency": 4,
                            "timeout_ms": timeout_ms,
                            "retries": retries,
                        },
                    }
                ]
            },
            "specification": {
                "properties": [
                    {
                        "name": "retry_budget",
                        "operator": "ALWAYS",
                        "predicate": "gateway.timeout_ms * (gateway.retries + 1) <= 2000",
                    }
                ]
            },
        },
    }
    if tunable:
        doc["spec"]["parameters"] = [
            {"name": "gateway.timeout_ms", "min": 50, "max": 2000, "step": 10},
            {"name": "gateway.retries", "min": 0, "max": 5},
        ]
    if mode is not None:
        doc["spec"]["tuning"] = {"mode": mode}
    if target is not None:
        doc["spec"]["target"] = target
    return doc


@pytest.fixture(name="gateway_doc")
def gateway_doc_fixture() -> GatewayDoc:
    """:func:`gateway_doc`, for the test modules (conftest is not importable)."""
    return gateway_doc
