"""Fixtures for the emulator's integration tests: a running emulator, kubectl, a test CRD."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
from upir_e2e.emulator import EmulatorThread, find_kubectl, start_in_thread

# A CRD shaped like the product's (group upir.dev, short name "up") but owned by these
# tests, so they do not depend on the real schema's evolution.
TEST_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "upirs.upir.dev"},
    "spec": {
        "group": "upir.dev",
        "scope": "Namespaced",
        "names": {"plural": "upirs", "singular": "upir", "kind": "UPIR", "shortNames": ["up"]},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer", "minimum": 1, "default": 1},
                                    "mode": {
                                        "type": "string",
                                        "enum": ["Off", "Recommend", "Auto"],
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture
def test_crd() -> dict[str, Any]:
    return copy.deepcopy(TEST_CRD)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    handle = start_in_thread()
    yield handle
    handle.stop()


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """Run kubectl against the emulator; fails the test on a non-zero exit unless check=False."""
    binary = find_kubectl()
    cache = tmp_path_factory.mktemp("kubectl-cache")  # keep discovery caches out of $HOME

    def run(
        *args: str, check: bool = True, stdin: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [
                binary,
                "--kubeconfig",
                str(emulator.kubeconfig_path),
                "--cache-dir",
                str(cache),
                *args,
            ],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture(scope="module")
def api_client(emulator: EmulatorThread) -> Iterator[kubernetes.client.ApiClient]:
    path = str(emulator.kubeconfig_path)
    client = kubernetes.config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]
    yield client
    client.close()
