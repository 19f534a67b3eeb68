"""kubectl (the real binary) against the emulator: discovery, CRDs, CRs, patches, wait, delete."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_e2e.emulator import EmulatorThread, find_kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def _cr(name: str, **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "upir.dev/v1alpha1",
            "kind": "UPIR",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def _install_crd(kubectl: Kubectl, crd: dict[str, Any]) -> None:
    kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(crd))
    kubectl("wait", "--for=condition=Established", "crd/upirs.upir.dev", "--timeout=10s")


def test_namespaces_and_discovery(kubectl: Kubectl) -> None:
    names = set(kubectl("get", "namespaces", "-o", "name").stdout.split())
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public"} <= names
    kubectl("create", "namespace", "kt-ns")
    assert "kt-ns" in kubectl("get", "namespaces").stdout
    resources = kubectl("api-resources", "-o", "name").stdout.split()
    for expected in (
        "configmaps",
        "namespaces",
        "events",
        "leases.coordination.k8s.io",
        "deployments.apps",
    ):
        assert expected in resources
    kubectl("delete", "namespace", "kt-ns", "--timeout=20s")  # waits until the namespace is gone
    missing = kubectl("get", "namespace", "kt-ns", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_custom_resource_lifecycle(kubectl: Kubectl, test_crd: dict[str, Any]) -> None:
    kubectl("create", "namespace", "kt-cr")
    _install_crd(kubectl, test_crd)
    kubectl("apply", "--validate=false", "-n", "kt-cr", "-f", "-", stdin=_cr("demo", mode="Auto"))

    table = kubectl("get", "up", "-n", "kt-cr").stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "REPLICAS", "AGE"]
    assert table[1].split()[:2] == ["demo", "1"]  # replicas defaulted by the schema; no phase yet

    listing = json.loads(kubectl("get", "upirs", "-n", "kt-cr", "-o", "json").stdout)
    assert listing["kind"] == "List"
    (item,) = listing["items"]
    assert item["kind"] == "UPIR" and item["spec"] == {"mode": "Auto", "replicas": 1}
    assert item["metadata"]["generation"] == 1 and item["metadata"]["uid"]

    kubectl(
        "patch", "up", "demo", "-n", "kt-cr", "--type", "merge", "-p", '{"spec":{"replicas":3}}'
    )
    kubectl(
        "patch",
        "up",
        "demo",
        "-n",
        "kt-cr",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        '{"status":{"phase":"Ready"}}',
    )
    got = json.loads(kubectl("get", "up", "demo", "-n", "kt-cr", "-o", "json").stdout)
    assert got["metadata"]["generation"] == 2  # the status write did not move it
    assert got["status"] == {"phase": "Ready"} and got["spec"]["replicas"] == 3
    kubectl(
        "wait", "--for=jsonpath={.status.phase}=Ready", "up/demo", "-n", "kt-cr", "--timeout=10s"
    )
    assert kubectl("get", "up", "demo", "-n", "kt-cr", "--no-headers").stdout.split()[:3] == [
        "demo",
        "Ready",
        "3",
    ]

    rejected = kubectl(
        "patch",
        "up",
        "demo",
        "-n",
        "kt-cr",
        "--type",
        "merge",
        "-p",
        '{"spec":{"replicas":0}}',
        check=False,
    )
    assert rejected.returncode != 0
    assert "spec.replicas: Invalid value: 0" in rejected.stderr

    kubectl("delete", "up", "demo", "-n", "kt-cr", "--wait=false")
    kubectl("wait", "--for=delete", "up/demo", "-n", "kt-cr", "--timeout=10s")
    assert "No resources found" in kubectl("get", "up", "-n", "kt-cr").stderr


def test_delete_waits_for_finalizers(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    kubectl("create", "namespace", "kt-fin")
    held = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["test.upir.dev/hold"]},
    }
    kubectl("apply", "--validate=false", "-n", "kt-fin", "-f", "-", stdin=yaml.safe_dump(held))
    deleting = subprocess.Popen(
        [
            find_kubectl(),
            "--kubeconfig",
            str(emulator.kubeconfig_path),
            "delete",
            "configmap",
            "held",
            "-n",
            "kt-fin",
            "--timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        stamp = ""
        while not stamp and time.monotonic() < deadline:
            stamp = kubectl(
                "get", "cm", "held", "-n", "kt-fin", "-o", "jsonpath={.metadata.deletionTimestamp}"
            ).stdout
            time.sleep(0.1)
        assert stamp, "the object was never marked for deletion"
        time.sleep(0.5)
        assert deleting.poll() is None, (
            "kubectl delete returned while a finalizer still held the object"
        )
        kubectl(
            "patch",
            "cm",
            "held",
            "-n",
            "kt-fin",
            "--type",
            "json",
            "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]',
        )
        out, err = deleting.communicate(timeout=15)
        assert deleting.returncode == 0, err
        assert 'configmap "held" deleted' in out
    finally:
        if deleting.poll() is None:
            deleting.kill()
    assert kubectl("get", "cm", "held", "-n", "kt-fin", check=False).returncode != 0


def test_server_side_apply_and_conflicts(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "kt-ssa")

    def config(value: str) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg"},
                "data": {"key": value},
            }
        )

    kubectl(
        "apply",
        "--validate=false",
        "--server-side",
        "--field-manager=alpha",
        "-n",
        "kt-ssa",
        "-f",
        "-",
        stdin=config("1"),
    )
    clash = kubectl(
        "apply",
        "--validate=false",
        "--server-side",
        "--field-manager=beta",
        "-n",
        "kt-ssa",
        "-f",
        "-",
        stdin=config("2"),
        check=False,
    )
    assert clash.returncode != 0 and "conflict" in clash.stderr.lower()
    kubectl(
        "apply",
        "--validate=false",
        "--server-side",
        "--field-manager=beta",
        "--force-conflicts",
        "-n",
        "kt-ssa",
        "-f",
        "-",
        stdin=config("2"),
    )
    got = json.loads(
        kubectl("get", "cm", "cfg", "-n", "kt-ssa", "-o", "json", "--show-managed-fields").stdout
    )
    assert got["data"] == {"key": "2"}
    assert {e["manager"] for e in got["metadata"]["managedFields"]} == {"beta"}


def test_labels_selectors_and_client_side_apply(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "kt-sel")
    for name, env in (("a", "dev"), ("b", "prod"), ("c", "dev")):
        kubectl("create", "configmap", name, "-n", "kt-sel", f"--from-literal=env={env}")
        kubectl("label", "configmap", name, "-n", "kt-sel", f"env={env}")
    assert kubectl("get", "cm", "-n", "kt-sel", "-l", "env=dev", "-o", "name").stdout.split() == [
        "configmap/a",
        "configmap/c",
    ]
    assert kubectl(
        "get", "cm", "-n", "kt-sel", "-l", "env notin (dev)", "-o", "name"
    ).stdout.split() == ["configmap/b"]
    assert kubectl(
        "get",
        "cm",
        "-n",
        "kt-sel",
        "--field-selector",
        "metadata.name!=a",
        "-l",
        "env",
        "-o",
        "name",
    ).stdout.split() == ["configmap/b", "configmap/c"]
    manifest = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "applied"},
            "data": {"x": "1"},
        }
    )
    assert (
        "created"
        in kubectl("apply", "--validate=false", "-n", "kt-sel", "-f", "-", stdin=manifest).stdout
    )
    updated = manifest.replace("'1'", "'2'")
    assert (
        "configured"
        in kubectl("apply", "--validate=false", "-n", "kt-sel", "-f", "-", stdin=updated).stdout
    )
    assert kubectl("get", "cm", "applied", "-n", "kt-sel", "-o", "jsonpath={.data.x}").stdout == "2"


@pytest.mark.skipif(
    not (REPO / "crds" / "upir.dev_upirs.yaml").is_file(),
    reason="the product CRD is not generated yet",
)
def test_product_crd_and_example_apply(kubectl: Kubectl, emulator: EmulatorThread) -> None:
    """The product's generated CRD and an example UPIR go in as they would on a cluster."""
    # The test CRD above owns the same name: this runs on a fresh emulator.
    kubectl("create", "namespace", "kt-product")
    crd = (REPO / "crds" / "upir.dev_upirs.yaml").read_text()
    crd_doc = yaml.safe_load(crd)
    kubectl("delete", "crd", crd_doc["metadata"]["name"], "--ignore-not-found", "--timeout=20s")
    kubectl("apply", "--validate=false", "-f", "-", stdin=crd)
    kubectl(
        "wait", "--for=condition=Established", f"crd/{crd_doc['metadata']['name']}", "--timeout=10s"
    )
    examples = sorted((REPO / "examples").glob("*.yaml"))
    upirs = [p for p in examples if yaml.safe_load(p.read_text()).get("kind") == "UPIR"]
    assert upirs, "no example UPIR manifests"
    for path in upirs:
        kubectl("apply", "--validate=false", "-n", "kt-product", "-f", str(path))
    header = kubectl("get", "up", "-n", "kt-product").stdout.splitlines()[0].split()
    columns = [
        c["name"].upper()
        for c in crd_doc["spec"]["versions"][0].get("additionalPrinterColumns", [])
    ]
    assert header == ["NAME", *columns]


def test_access_reviews_and_server_dry_run(kubectl: Kubectl) -> None:
    # No RBAC: every access review is allowed, and reviews are never stored.
    assert kubectl("auth", "can-i", "delete", "customresourcedefinitions").stdout.strip() == "yes"
    assert "upir-emulator-user" in kubectl("auth", "whoami").stdout
    dry = kubectl("create", "configmap", "dry", "--dry-run=server", "-o", "json").stdout
    assert json.loads(dry)["metadata"]["name"] == "dry"
    assert kubectl("get", "configmap", "dry", check=False).returncode != 0
