"""The store's write rules: resourceVersion, generation, conflicts, status, finalizers, history."""

from __future__ import annotations

from typing import Any

import pytest
from upir_e2e.emulator import KubernetesApiEmulator, ResourceType, Store, WriteOptions
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.selectors import (
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
)
from upir_e2e.emulator.store import APPLY, JSON_PATCH, MERGE, STRATEGIC

OPTS = WriteOptions("test")

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.upir.dev"},
    "spec": {
        "group": "test.upir.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wg"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "default": 1}},
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
def emu() -> KubernetesApiEmulator:
    return KubernetesApiEmulator()


def rt_of(emu: KubernetesApiEmulator, group: str, version: str, plural: str) -> ResourceType:
    rt = emu.registry.get(group, version, plural)
    assert rt is not None
    return rt


def widgets(emu: KubernetesApiEmulator) -> ResourceType:
    crds = rt_of(emu, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    emu.store.create(crds, None, CRD, OPTS)
    return rt_of(emu, "test.upir.dev", "v1", "widgets")


def cm(name: str = "c", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_create_sets_system_metadata_and_monotonic_versions(emu: KubernetesApiEmulator) -> None:
    store: Store = emu.store
    configmaps = rt_of(emu, "", "v1", "configmaps")
    first = store.create(configmaps, "default", cm("a"), OPTS)
    second = store.create(configmaps, "default", cm("b"), OPTS)
    meta = first["metadata"]
    assert (
        meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["namespace"] == "default"
    )
    assert int(second["metadata"]["resourceVersion"]) == int(meta["resourceVersion"]) + 1
    assert "generation" not in meta  # ConfigMaps have none, as on a real server
    with pytest.raises(ApiError) as info:
        store.create(configmaps, "default", cm("a"), OPTS)
    assert (info.value.code, info.value.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as info:
        store.create(configmaps, "nowhere", cm("z"), OPTS)
    assert info.value.code == 404


def test_generate_name_and_name_validation(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    made = emu.store.create(
        configmaps, "default", {"metadata": {"generateName": "kopf-event-"}}, OPTS
    )
    assert (
        made["metadata"]["name"].startswith("kopf-event-") and len(made["metadata"]["name"]) == 16
    )
    bodies: list[dict[str, Any]] = [
        {"metadata": {"name": "Bad_Name"}},
        {"metadata": {}},
        {"metadata": {"name": "ok", "labels": {"a": "x" * 70}}},
    ]
    for bad in bodies:
        with pytest.raises(ApiError) as info:
            emu.store.create(configmaps, "default", bad, OPTS)
        assert info.value.code == 422


def test_stale_resource_version_conflicts(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    obj = emu.store.create(configmaps, "default", cm("a", k="1"), OPTS)
    fresh = emu.store.update(configmaps, "default", "a", {**obj, "data": {"k": "2"}}, OPTS)
    with pytest.raises(ApiError) as info:
        emu.store.update(configmaps, "default", "a", {**obj, "data": {"k": "3"}}, OPTS)
    assert (info.value.code, info.value.reason) == (409, "Conflict")
    stale = {
        "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        "data": {"k": "4"},
    }
    with pytest.raises(ApiError):
        emu.store.patch(configmaps, "default", "a", MERGE, stale, OPTS)
    test_op = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": obj["metadata"]["resourceVersion"],
        }
    ]
    with pytest.raises(ApiError) as info:
        emu.store.patch(configmaps, "default", "a", JSON_PATCH, test_op, OPTS)
    assert info.value.code == 422
    assert emu.store.get(configmaps, "default", "a")["data"] == {"k": "2"} == fresh["data"]


def test_noop_write_keeps_version_and_makes_no_event(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    obj = emu.store.create(configmaps, "default", cm("a", k="1"), OPTS)
    version = emu.store.resource_version
    same, _ = emu.store.patch(configmaps, "default", "a", MERGE, {"data": {"k": "1"}}, OPTS)
    assert same["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert emu.store.resource_version == version


def test_generation_moves_only_on_spec_changes_with_status_subresource(
    emu: KubernetesApiEmulator,
) -> None:
    rt = widgets(emu)
    obj = emu.store.create(
        rt, "default", {"metadata": {"name": "w"}, "spec": {}, "status": {"x": 1}}, OPTS
    )
    assert obj["metadata"]["generation"] == 1
    assert "status" not in obj  # dropped on create with the status subresource
    assert obj["spec"] == {"size": 1}  # schema default
    obj, _ = emu.store.patch(rt, "default", "w", MERGE, {"metadata": {"labels": {"a": "b"}}}, OPTS)
    assert obj["metadata"]["generation"] == 1
    obj, _ = emu.store.patch(rt, "default", "w", MERGE, {"status": {"phase": "ignored"}}, OPTS)
    assert "status" not in obj  # main-resource writes ignore status
    obj, _ = emu.store.patch(
        rt,
        "default",
        "w",
        MERGE,
        {"status": {"phase": "Ok"}, "metadata": {"labels": {"c": "d"}}},
        OPTS,
        subresource="status",
    )
    assert obj["status"] == {"phase": "Ok"}
    assert obj["metadata"]["labels"] == {"a": "b"}  # status writes ignore metadata
    assert obj["metadata"]["generation"] == 1
    obj, _ = emu.store.patch(rt, "default", "w", MERGE, {"spec": {"size": 3}}, OPTS)
    assert obj["metadata"]["generation"] == 2 and obj["status"] == {"phase": "Ok"}


def test_custom_resource_put_needs_resource_version_and_rejects_smp(
    emu: KubernetesApiEmulator,
) -> None:
    rt = widgets(emu)
    emu.store.create(rt, "default", {"metadata": {"name": "w"}}, OPTS)
    with pytest.raises(ApiError) as info:
        emu.store.update(rt, "default", "w", {"metadata": {"name": "w"}, "spec": {}}, OPTS)
    assert info.value.code == 422
    with pytest.raises(ApiError) as info:
        emu.store.patch(rt, "default", "w", STRATEGIC, {"spec": {}}, OPTS)
    assert info.value.code == 415


def test_finalizers_hold_deletion_until_removed(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    emu.store.create(
        configmaps, "default", {"metadata": {"name": "a", "finalizers": ["x.io/keep"]}}, OPTS
    )
    obj, gone = emu.store.delete(configmaps, "default", "a")
    assert not gone and obj["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiError) as info:
        emu.store.patch(
            configmaps,
            "default",
            "a",
            MERGE,
            {"metadata": {"finalizers": ["x.io/keep", "y.io/new"]}},
            OPTS,
        )
    assert info.value.code == 422
    _, created = emu.store.patch(
        configmaps, "default", "a", MERGE, {"metadata": {"finalizers": None}}, OPTS
    )
    assert not created
    assert emu.store.find(("", "configmaps"), "default", "a") is None
    assert emu.store.events_since(emu.store.resource_version - 1)[0].type == "DELETED"


def test_history_replays_and_expires() -> None:
    emu = KubernetesApiEmulator(history_size=5)
    configmaps = rt_of(emu, "", "v1", "configmaps")
    start = emu.store.resource_version
    for index in range(3):
        emu.store.create(configmaps, "default", cm(f"c{index}"), OPTS)
    assert [e.obj["metadata"]["name"] for e in emu.store.events_since(start)] == ["c0", "c1", "c2"]
    for index in range(3, 10):
        emu.store.create(configmaps, "default", cm(f"c{index}"), OPTS)
    with pytest.raises(ApiError) as info:
        emu.store.events_since(start)
    assert info.value.code == 410
    assert len(emu.store.events_since(emu.store.resource_version - 5)) == 5


def test_server_side_apply_through_the_store(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    applied, created = emu.store.patch(
        configmaps, "default", "a", APPLY, cm("a", x="1", y="2"), WriteOptions("op")
    )
    assert created and applied["metadata"]["managedFields"][0]["manager"] == "op"
    applied, _ = emu.store.patch(
        configmaps, "default", "a", APPLY, cm("a", x="1"), WriteOptions("op")
    )
    assert applied["data"] == {"x": "1"}
    with pytest.raises(ApiError) as info:
        emu.store.patch(configmaps, "default", "a", APPLY, cm("a", x="9"), WriteOptions("other"))
    assert info.value.code == 409
    forced, _ = emu.store.patch(
        configmaps, "default", "a", APPLY, cm("a", x="9"), WriteOptions("other", force=True)
    )
    assert forced["data"] == {"x": "9"}
    with pytest.raises(ApiError) as info:
        emu.store.patch(configmaps, "default", "a", APPLY, cm("a"), WriteOptions(""))
    assert info.value.code == 400


def test_list_selectors_and_pagination(emu: KubernetesApiEmulator) -> None:
    configmaps = rt_of(emu, "", "v1", "configmaps")
    for index in range(5):
        body = cm(f"c{index}")
        body["metadata"]["labels"] = {"parity": "even" if index % 2 == 0 else "odd"}
        emu.store.create(configmaps, "default", body, OPTS)
    fields = selectable_fields("", "configmaps")
    items, _, _ = emu.store.list_objects(
        configmaps,
        "default",
        parse_label_selector("parity=even"),
        parse_field_selector("metadata.name!=c2", fields),
    )
    assert [i["metadata"]["name"] for i in items] == ["c0", "c4"]
    names: list[str] = []
    token = ""
    while True:
        page, _, token = emu.store.list_objects(
            configmaps,
            None,
            parse_label_selector(""),
            parse_field_selector("", fields),
            limit=2,
            continue_token=token,
        )
        names += [i["metadata"]["name"] for i in page]
        if not token:
            break
    assert names == [f"c{i}" for i in range(5)]


def test_strict_field_validation_and_warnings(emu: KubernetesApiEmulator) -> None:
    rt = widgets(emu)
    with pytest.raises(ApiError) as info:
        emu.store.create(
            rt,
            "default",
            {"metadata": {"name": "w"}, "spec": {"bogus": 1}},
            WriteOptions("t", field_validation="Strict"),
        )
    assert info.value.code == 400 and 'unknown field "spec.bogus"' in info.value.message
    opts = WriteOptions("t")
    obj = emu.store.create(rt, "default", {"metadata": {"name": "w"}, "spec": {"bogus": 1}}, opts)
    assert obj["spec"] == {"size": 1}
    assert opts.warnings == ['unknown field "spec.bogus"']


def test_secret_string_data_and_immutable_data(emu: KubernetesApiEmulator) -> None:
    secrets = rt_of(emu, "", "v1", "secrets")
    made = emu.store.create(
        secrets,
        "default",
        {"metadata": {"name": "s"}, "stringData": {"k": "v"}, "immutable": True},
        OPTS,
    )
    assert made["data"] == {"k": "dg=="} and "stringData" not in made and made["type"] == "Opaque"
    with pytest.raises(ApiError) as info:
        emu.store.patch(secrets, "default", "s", MERGE, {"data": {"k": "eA=="}}, OPTS)
    assert info.value.code == 422 and "immutable" in info.value.message
    labelled, _ = emu.store.patch(
        secrets, "default", "s", MERGE, {"metadata": {"labels": {"a": "b"}}}, OPTS
    )
    assert labelled["metadata"]["labels"] == {"a": "b"}  # metadata stays writable
