"""The operator from the image, as a cluster runs it: a hardened podman container on
the host network, the project's Kubernetes API emulator (started here, on
127.0.0.1) as its API server through a read-only kubeconfig, driven with kubectl
from outside. An example UPIR goes to Ready with a signed certificate and its owned
ConfigMap, the health and metrics endpoints answer, and a delete is finalized."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_e2e.emulator import start_in_thread
from upir_e2e.procutil import free_port, http_get
from upir_e2e.stack import Kubectl, wait_for

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "api-service.yaml"
Podman = Callable[..., subprocess.CompletedProcess[str]]


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


class OperatorContainer:
    """The operator, detached, from the image; ``logs()`` goes into failure messages."""

    def __init__(
        self,
        podman: Podman,
        image: str,
        flags: tuple[str, ...],
        kubeconfig: Path,
        namespace: str,
    ) -> None:
        self.podman = podman
        self.name = f"upir-operator-test-{uuid.uuid4().hex[:8]}"
        self.metrics_port, self.health_port = free_port(), free_port()
        podman(
            "run",
            "--detach",
            "--name",
            self.name,
            "--network",
            "host",
            *flags,
            "-v",
            f"{kubeconfig}:/etc/upir/kubeconfig:ro",
            "-e",
            f"UPIR_NAMESPACE={namespace}",
            "-e",
            f"UPIR_METRICS_PORT={self.metrics_port}",
            "-e",
            f"UPIR_HEALTH_PORT={self.health_port}",
            "-e",
            "UPIR_RECHECK_SECONDS=3600",
            image,
            "--kubeconfig",
            "/etc/upir/kubeconfig",
        )

    def running(self) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Status}}", self.name, check=False)
        return state.stdout.strip() == "running"

    def logs(self) -> str:
        proc = self.podman("logs", "--tail", "60", self.name, check=False)
        return proc.stdout + proc.stderr

    def stop(self) -> None:
        self.podman("rm", "--force", "--time", "10", self.name, check=False)


@pytest.fixture
def cluster() -> Iterator[Kubectl]:
    """The API emulator with the CRD applied; kubectl from the test environment."""
    emu = start_in_thread()
    try:
        kubectl = Kubectl(emu.kubeconfig_path)
        kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "upir.dev_upirs.yaml"))
        yield kubectl
    finally:
        emu.stop()


def test_operator_from_the_image_reconciles_a_upir_to_ready(
    cluster: Kubectl,
    image: str,
    podman: Podman,
    hardened_flags: tuple[str, ...],
    tmp_path: Path,
) -> None:
    ns = f"img-{uuid.uuid4().hex[:6]}"
    cluster("create", "namespace", ns)
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    # only Auto writes what the workload reads (the parameters ConfigMap)
    doc["spec"]["tuning"]["mode"] = "Auto"
    applied_file = tmp_path / "upir.yaml"
    applied_file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    name = doc["metadata"]["name"]
    op = OperatorContainer(podman, image, hardened_flags, cluster.kubeconfig, ns)
    try:
        cluster("apply", "--validate=false", "-n", ns, "-f", str(applied_file))

        def ready() -> dict[str, Any] | None:
            assert op.running(), f"the operator container exited:\n{op.logs()}"
            obj = cluster.get("upir", name, ns)
            return obj if cond(obj, "Ready").get("status") == "True" else None

        try:
            obj = wait_for(f"{name} Ready", ready, timeout_s=180, period_s=1.0)
        except TimeoutError as err:
            raise AssertionError(f"{err}\noperator log:\n{op.logs()}") from err
        status = obj["status"]
        assert cond(obj, "Valid")["status"] == cond(obj, "Verified")["status"] == "True"
        assert status["observedGeneration"] == obj["metadata"]["generation"]
        assert status["verdict"] == "PROVED"
        assert {v["status"] for v in status["verdicts"]} == {"PROVED"}
        assert status["certificate"]["algorithm"] == "Ed25519"
        assert status["certificate"]["signature"]
        # the parameters ConfigMap, owned by the UPIR
        cm_name = doc["spec"]["target"]["configMap"]
        cm = wait_for("params ConfigMap", lambda: cluster.get("configmap", cm_name, ns), 60)
        assert cm["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
        applied = status["appliedParameters"]
        assert applied and all(cm["data"][k] == str(v) for k, v in applied.items())
        # the endpoints the chart's probes and ServiceMonitor use, from outside
        code, _ = http_get(f"http://127.0.0.1:{op.health_port}/healthz", timeout_s=5)
        assert code == 200
        code, body = http_get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout_s=5)
        assert code == 200
        applied_series = [
            line
            for line in body.decode().splitlines()
            if line.startswith("upir_reconciles_total{")
            and f'namespace="{ns}"' in line
            and f'upir="{name}"' in line
            and 'outcome="applied"' in line
        ]
        assert applied_series, body.decode()
        # delete: the operator's finalizer is removed and the object goes
        cluster("delete", "upir", name, "-n", ns, "--wait=false")
        wait_for(f"{name} deleted", lambda: cluster.get("upir", name, ns) is None, 60)
        assert op.running(), op.logs()
    finally:
        op.stop()
