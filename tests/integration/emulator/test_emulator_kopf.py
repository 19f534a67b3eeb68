"""A real kopf operator over the emulator: create, status, child, finalizer, update, delete, GC.

The operator runs in a thread with its own event loop (kopf's embedded mode), in
standalone mode, scoped to one namespace, logging in with the emulator's TLS
certificate and bearer token through ``@kopf.on.login``.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import pytest
import yaml
from kubernetes.client import ApiClient, ApiException, CoreV1Api, CustomObjectsApi
from upir_e2e.emulator import EmulatorThread, find_kubectl, start_in_thread

pytestmark = pytest.mark.integration


def _api(kind: type, client: ApiClient) -> Any:
    """A typed API client, used with plain dicts (which it accepts) instead of its models."""
    return kind(client)


NS = "kopf-test"
GROUP, VERSION, PLURAL = "upir.dev", "v1alpha1", "upirs"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def _wait(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except ApiException as exc:
            last = exc
        if last and not isinstance(last, ApiException):
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@pytest.fixture(scope="module")
def secured() -> Iterator[EmulatorThread]:
    with start_in_thread(auth=True) as handle:
        yield handle


def _operator(handle: EmulatorThread, api: ApiClient, calls: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    core = _api(CoreV1Api, api)
    ca_pem = handle.server.ca_pem
    assert ca_pem is not None

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=handle.url, ca_data=ca_pem, token=handle.token, scheme="Bearer"
        )

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.loggers = True
        settings.watching.server_timeout = 10
        settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf")

    @kopf.on.create(GROUP, VERSION, PLURAL, id="create", registry=registry)
    def create(
        *,
        body: kopf.Body,
        name: str,
        namespace: str | None,
        patch: kopf.Patch,
        logger: Any,
        **_: Any,
    ) -> dict[str, Any]:
        child: dict[str, Any] = {
            "metadata": {"name": f"{name}-config"},
            "data": {"replicas": str(body.spec.get("replicas"))},
        }
        kopf.adopt(child, owner=body)
        core.create_namespaced_config_map(namespace, child)
        patch.status["phase"] = "Created"
        kopf.info(body, reason="ChildCreated", message=f"created {name}-config")
        logger.info("reconciled on create")
        calls.append("create")
        return {"child": f"{name}-config"}

    @kopf.on.update(GROUP, VERSION, PLURAL, id="update", field="spec", registry=registry)
    def update(*, name: str, namespace: str | None, new: Any, patch: kopf.Patch, **_: Any) -> None:
        core.patch_namespaced_config_map(
            f"{name}-config", namespace, {"data": {"replicas": str(new.get("replicas"))}}
        )
        patch.status["phase"] = f"Updated-{new.get('replicas')}"
        calls.append("update")

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="delete", registry=registry)
    def delete(**_: Any) -> None:
        calls.append("delete")

    return registry


def test_kopf_operator_full_lifecycle(
    secured: EmulatorThread, test_crd: dict[str, Any], tmp_path: Path
) -> None:
    api = kubernetes.config.new_client_from_config(config_file=str(secured.kubeconfig_path))  # type: ignore[no-untyped-call]
    core, custom = _api(CoreV1Api, api), _api(CustomObjectsApi, api)
    core.create_namespace({"metadata": {"name": NS}})
    _api(kubernetes.client.ApiextensionsV1Api, api).create_custom_resource_definition(test_crd)

    calls: list[str] = []
    registry = _operator(secured, api, calls)
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    standalone=True,
                    namespaces=[NS],
                    clusterwide=False,
                    stop_flag=stop,
                    ready_flag=ready,
                )
            )
        except BaseException as exc:  # surfaced by the assertions below
            failure.append(exc)

    logging.getLogger("kopf").setLevel(logging.INFO)
    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()

    def kubectl(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [
                find_kubectl(),
                "--kubeconfig",
                str(secured.kubeconfig_path),
                "--cache-dir",
                str(tmp_path),
                "-n",
                NS,
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def read() -> dict[str, Any]:
        obj: dict[str, Any] = custom.get_namespaced_custom_object(
            GROUP, VERSION, NS, PLURAL, "demo"
        )
        return obj

    try:
        assert ready.wait(20), f"the operator did not start: {failure}"
        manifest = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "UPIR",
            "metadata": {"name": "demo"},
            "spec": {"mode": "Auto", "replicas": 2},
        }
        kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(manifest))

        created = _wait(
            lambda: read() if read().get("status", {}).get("phase") == "Created" else None,
            "the create handler",
        )
        assert FINALIZER in created["metadata"]["finalizers"]
        assert created["status"]["create"] == {
            "child": "demo-config"
        }  # the handler's result, stored by kopf
        child = core.read_namespaced_config_map("demo-config", NS)
        (owner,) = child.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "UPIR",
            "demo",
            created["metadata"]["uid"],
            True,
        )
        assert child.data == {"replicas": "2"}

        kubectl("patch", "up", "demo", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
        updated = _wait(
            lambda: read() if read().get("status", {}).get("phase") == "Updated-3" else None,
            "the update handler",
        )
        assert updated["metadata"]["generation"] == 2
        assert core.read_namespaced_config_map("demo-config", NS).data == {"replicas": "3"}

        def posted() -> list[str]:
            items = core.list_namespaced_event(NS, field_selector="involvedObject.name=demo").items
            return [e.reason for e in items]

        reasons = _wait(lambda: posted() if "ChildCreated" in posted() else None, "kopf's events")
        assert "Logging" in reasons  # settings.posting.loggers: handler logs become events

        kubectl("delete", "up", "demo", "--timeout=20s")  # returns once kopf released its finalizer
        assert calls == ["create", "update", "delete"]
        with pytest.raises(ApiException) as info:
            read()
        assert info.value.status == 404

        def collected() -> bool:
            try:
                core.read_namespaced_config_map("demo-config", NS)
            except ApiException as exc:
                return bool(exc.status == 404)
            return False

        _wait(collected, "the garbage collection of the child ConfigMap", timeout=5)
        assert not failure, failure
    finally:
        stop.set()
        thread.join(15)
        api.close()
    assert not thread.is_alive(), "the operator did not stop"


PEERING_CRDS = [
    ("Cluster", "ClusterKopfPeering", "clusterkopfpeerings"),
    ("Namespaced", "KopfPeering", "kopfpeerings"),
]


def test_kopf_peering_through_kopf_dev_crds(
    secured: EmulatorThread, test_crd: dict[str, Any]
) -> None:
    """Without --standalone, kopf coordinates through a KopfPeering object (a plain CRD)."""
    api = kubernetes.config.new_client_from_config(config_file=str(secured.kubeconfig_path))  # type: ignore[no-untyped-call]
    core, custom = _api(CoreV1Api, api), _api(CustomObjectsApi, api)
    extensions = _api(kubernetes.client.ApiextensionsV1Api, api)
    core.create_namespace({"metadata": {"name": "kopf-peering"}})
    for crd in [test_crd, *(_peering_crd(*names) for names in PEERING_CRDS)]:
        try:
            extensions.create_custom_resource_definition(crd)
        except ApiException as exc:
            assert exc.status == 409  # the other test of this module made it
    peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "default"}}
    custom.create_namespaced_custom_object(
        "kopf.dev", "v1", "kopf-peering", "kopfpeerings", peering
    )

    registry = kopf.OperatorRegistry()
    seen: list[str] = []
    ca_pem = secured.server.ca_pem

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=secured.url, ca_data=ca_pem, token=secured.token, scheme="Bearer"
        )

    @kopf.on.create(GROUP, VERSION, PLURAL, id="create", registry=registry)
    def create(*, name: str, **_: Any) -> None:
        seen.append(name)

    stop, ready = threading.Event(), threading.Event()
    operator = kopf.operator(
        registry=registry,
        namespaces=["kopf-peering"],
        peering_name="default",
        stop_flag=stop,
        ready_flag=ready,
    )
    thread = threading.Thread(
        target=asyncio.run, args=(operator,), name="kopf-peering", daemon=True
    )
    thread.start()
    try:
        assert ready.wait(20)

        def announced() -> Any:
            status = (
                custom.get_namespaced_custom_object(
                    "kopf.dev", "v1", "kopf-peering", "kopfpeerings", "default"
                ).get("status")
                or {}
            )
            return status or None

        identities = _wait(announced, "kopf's peering announcement")
        (identity,) = identities.values()
        assert identity["priority"] == 0 and identity["lifetime"] > 0
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "UPIR",
            "metadata": {"name": "peered"},
            "spec": {"mode": "Off"},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, "kopf-peering", PLURAL, body)
        _wait(lambda: seen == ["peered"], "the create handler under peering")
    finally:
        stop.set()
        thread.join(15)
        api.close()
    assert not thread.is_alive()


def _peering_crd(scope: str, kind: str, plural: str) -> dict[str, Any]:
    status = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev"},
        "spec": {
            "scope": scope,
            "group": "kopf.dev",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"status": status}}
                    },
                }
            ],
        },
    }
