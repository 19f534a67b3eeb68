"""The kubernetes Python client against the emulator: CRUD, conflicts, watches, apply, kinds."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, ApiException, CoreV1Api, CustomObjectsApi
from upir_e2e.emulator import EmulatorThread, start_in_thread

pytestmark = pytest.mark.integration


def _api(kind: type, client: ApiClient) -> Any:
    """A typed API client, used with plain dicts (which it accepts) instead of its models."""
    return kind(client)


GROUP, VERSION, PLURAL = "upir.dev", "v1alpha1", "upirs"


def _namespace(api: ApiClient, name: str) -> str:
    _api(CoreV1Api, api).create_namespace({"metadata": {"name": name}})
    return name


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _stream(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """kubernetes.watch.Watch().stream: a watch through the Python client."""
    watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
    events: Iterator[dict[str, Any]] = watch.stream(func, *args, **kwargs)  # type: ignore[no-untyped-call]
    return events


def _missing(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        return bool(exc.status == 404)
    return False


def test_configmap_crud_and_optimistic_concurrency(api_client: ApiClient) -> None:
    core = _api(CoreV1Api, api_client)
    ns = _namespace(api_client, "pc-crud")
    made = core.create_namespaced_config_map(
        ns, {"metadata": {"name": "cfg", "labels": {"app": "x"}}, "data": {"k": "1"}}
    )
    assert made.metadata.uid and made.metadata.resource_version and made.metadata.creation_timestamp
    fresh = core.read_namespaced_config_map("cfg", ns)
    fresh.data["k"] = "2"
    replaced = core.replace_namespaced_config_map("cfg", ns, fresh)  # PUT
    assert replaced.data == {"k": "2"}
    assert int(replaced.metadata.resource_version) > int(made.metadata.resource_version)

    made.data = {"k": "stale"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("cfg", ns, made)  # carries the old resourceVersion
    assert info.value.status == 409
    status = json.loads(info.value.body or "{}")
    assert (status["kind"], status["reason"]) == ("Status", "Conflict")

    patched = core.patch_namespaced_config_map(
        "cfg", ns, {"data": {"extra": "3"}}
    )  # strategic merge
    assert patched.data == {"k": "2", "extra": "3"}
    listed = core.list_namespaced_config_map(ns, label_selector="app=x")
    assert [c.metadata.name for c in listed.items] == ["cfg"]
    assert listed.metadata.resource_version
    core.delete_namespaced_config_map("cfg", ns)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("cfg", ns)
    assert info.value.status == 404 and json.loads(info.value.body or "{}")["reason"] == "NotFound"


def test_custom_objects_with_status_subresource(
    api_client: ApiClient, test_crd: dict[str, Any]
) -> None:
    _api(kubernetes.client.ApiextensionsV1Api, api_client).create_custom_resource_definition(
        test_crd
    )
    custom = _api(CustomObjectsApi, api_client)
    ns = _namespace(api_client, "pc-custom")
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "UPIR",
        "metadata": {"generateName": "u-"},
        "spec": {"mode": "Auto"},
    }
    made = custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    name = made["metadata"]["name"]
    assert name.startswith("u-") and made["metadata"]["generation"] == 1
    status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, name, {"status": {"phase": "Verified"}}
    )
    assert status["status"] == {"phase": "Verified"} and status["metadata"]["generation"] == 1
    spec = custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, name, {"spec": {"replicas": 2}, "status": {"phase": "lost"}}
    )
    assert spec["metadata"]["generation"] == 2 and spec["status"] == {"phase": "Verified"}
    stale = dict(made, spec={"mode": "Off"})
    with pytest.raises(ApiException) as info:
        custom.replace_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, stale)
    assert info.value.status == 409
    current = custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
    current["spec"]["mode"] = "Off"
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, current)
    assert replaced["spec"] == {"mode": "Off", "replicas": 2}
    listing = custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    assert listing["kind"] == "UPIRList" and listing["apiVersion"] == f"{GROUP}/{VERSION}"
    with pytest.raises(ApiException) as info:
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            PLURAL,
            name,
            [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}],
            _content_type="application/json-patch+json",
        )
    assert info.value.status == 422


def test_watch_replays_from_a_resource_version(api_client: ApiClient) -> None:
    core = _api(CoreV1Api, api_client)
    ns = _namespace(api_client, "pc-watch")
    core.create_namespaced_config_map(ns, {"metadata": {"name": "before"}})
    since = core.list_namespaced_config_map(ns).metadata.resource_version
    # These happen between the list and the watch: a watch from `since` must still see them.
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", ns, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("a", ns)
    seen = [
        (event["type"], event["object"].metadata.name)
        for event in _stream(
            core.list_namespaced_config_map, ns, resource_version=since, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_live_watch_with_label_selector_transitions(api_client: ApiClient) -> None:
    core = _api(CoreV1Api, api_client)
    ns = _namespace(api_client, "pc-live")
    events: list[tuple[str, str]] = []
    since = core.list_namespaced_config_map(ns).metadata.resource_version

    def watch() -> None:
        stream = _stream(
            core.list_namespaced_config_map,
            ns,
            label_selector="pick=yes",
            resource_version=since,
            timeout_seconds=2,
        )
        events.extend((e["type"], e["object"].metadata.name) for e in stream)

    thread = threading.Thread(target=watch)
    thread.start()
    time.sleep(0.3)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c", "labels": {"pick": "no"}}})
    core.patch_namespaced_config_map("c", ns, {"metadata": {"labels": {"pick": "yes"}}})
    core.patch_namespaced_config_map("c", ns, {"metadata": {"labels": {"pick": "no"}}})
    thread.join(10)
    assert events == [("ADDED", "c"), ("DELETED", "c")]  # entering and leaving the selection


def test_watch_from_a_compacted_version_is_gone() -> None:
    with start_in_thread(history_size=3) as handle:
        api = kubernetes.config.new_client_from_config(config_file=str(handle.kubeconfig_path))  # type: ignore[no-untyped-call]
        core = _api(CoreV1Api, api)
        since = core.list_namespaced_config_map("default").metadata.resource_version
        for index in range(5):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        with pytest.raises(ApiException) as info:
            list(
                _stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version=since,
                    timeout_seconds=1,
                )
            )
        assert info.value.status == 410
        api.close()


def _raw_watch(handle: EmulatorThread, path: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{handle.url}{path}", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        return [json.loads(line) for line in response if line.strip()]


def test_initial_events_end_with_a_bookmark(
    emulator: EmulatorThread, api_client: ApiClient
) -> None:
    ns = _namespace(api_client, "pc-initial")
    _api(CoreV1Api, api_client).create_namespaced_config_map(ns, {"metadata": {"name": "one"}})
    query = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    events = _raw_watch(emulator, f"/api/v1/namespaces/{ns}/configmaps?{query}")
    assert [e["type"] for e in events[:2]] == ["ADDED", "BOOKMARK"]
    assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    with pytest.raises(urllib.error.HTTPError) as info:  # sendInitialEvents needs bookmarks
        _raw_watch(
            emulator,
            f"/api/v1/namespaces/{ns}/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
        )
    assert info.value.code == 422


def test_server_side_apply_with_the_client(api_client: ApiClient) -> None:
    core = _api(CoreV1Api, api_client)
    ns = _namespace(api_client, "pc-apply")
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "1", "b": "2"},
    }
    core.patch_namespaced_config_map(
        "cfg",
        ns,
        config,
        field_manager="upir-operator",
        _content_type="application/apply-patch+yaml",
    )
    config["data"] = {"a": "1"}
    applied = core.patch_namespaced_config_map(
        "cfg",
        ns,
        config,
        field_manager="upir-operator",
        _content_type="application/apply-patch+yaml",
    )
    assert applied.data == {"a": "1"}
    config["data"] = {"a": "changed"}
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(
            "cfg",
            ns,
            config,
            field_manager="someone-else",
            _content_type="application/apply-patch+yaml",
        )
    assert info.value.status == 409
    forced = core.patch_namespaced_config_map(
        "cfg",
        ns,
        config,
        field_manager="someone-else",
        force=True,
        _content_type="application/apply-patch+yaml",
    )
    assert forced.data == {"a": "changed"}


def test_builtin_kinds_are_storable_and_events_listable(api_client: ApiClient) -> None:
    ns = _namespace(api_client, "pc-kinds")
    dynamic: Any = kubernetes.dynamic.DynamicClient(api_client)  # type: ignore[no-untyped-call]
    labels = {"app": "demo"}
    manifests: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "type": "Opaque",
            "stringData": {"k": "v"},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc"},
            "spec": {"selector": labels, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "pdb"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "hpa"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "minReplicas": 1,
                "maxReplicas": 3,
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": ns}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:upir-test"},
            "rules": [],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "upir-test"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:upir-test",
            },
            "subjects": [],
        },
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "lease"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "ev-"},
            "involvedObject": {"kind": "Deployment", "name": "d", "namespace": ns},
            "reason": "Applied",
            "message": "core event",
            "type": "Normal",
        },
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"generateName": "ev2-"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingController": "upir",
            "reportingInstance": "upir-0",
            "action": "Apply",
            "reason": "Applied",
            "regarding": {"kind": "Deployment", "name": "d", "namespace": ns},
            "note": "new event",
            "type": "Normal",
        },
    ]
    for manifest in manifests:
        resource = dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        namespace = ns if resource.namespaced else None
        made = resource.create(body=manifest, namespace=namespace)
        again = resource.get(name=made.metadata.name, namespace=namespace)
        assert again.metadata.uid == made.metadata.uid, manifest["kind"]
    deployment = dynamic.resources.get(api_version="apps/v1", kind="Deployment").get(
        name="d", namespace=ns
    )
    assert deployment.metadata.generation == 1
    core_events = _api(CoreV1Api, api_client).list_namespaced_event(
        ns, field_selector="reason=Applied,involvedObject.kind=Deployment"
    )
    assert [e.message for e in core_events.items] == ["core event"]
    new_events = _api(kubernetes.client.EventsV1Api, api_client).list_namespaced_event(ns)
    assert [e.note for e in new_events.items] == ["new event"]


def test_owner_deletion_collects_dependents(api_client: ApiClient) -> None:
    core = _api(CoreV1Api, api_client)
    ns = _namespace(api_client, "pc-gc")
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
        "controller": True,
    }
    core.create_namespaced_secret(ns, {"metadata": {"name": "child", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", ns)
    _eventually(lambda: _missing(lambda: core.read_namespaced_secret("child", ns)))


def test_token_auth_over_tls() -> None:
    with start_in_thread(auth=True) as handle:
        assert handle.url.startswith("https://") and handle.token
        api = kubernetes.config.new_client_from_config(config_file=str(handle.kubeconfig_path))  # type: ignore[no-untyped-call]
        assert "default" in [n.metadata.name for n in _api(CoreV1Api, api).list_namespace().items]
        api.configuration.api_key = {}
        api.configuration.api_key_prefix = {}
        api.default_headers.pop("authorization", None)
        with pytest.raises(ApiException) as info:
            _api(CoreV1Api, api).list_namespace()
        assert info.value.status == 401
        api.close()
