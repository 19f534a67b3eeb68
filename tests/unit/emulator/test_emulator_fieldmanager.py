"""Field ownership and server-side apply: ownership, removal, conflicts, force."""

from __future__ import annotations

from typing import Any

import pytest
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.fieldmanager import (
    ManagerEntry,
    apply,
    decode_fields,
    encode_fields,
    parse_entries,
    record_update,
    render_entries,
    tracked_paths,
)

NOW = "2025-01-01T00:00:00Z"


def _apply(
    current: dict[str, Any] | None,
    config: dict[str, Any],
    entries: list[ManagerEntry],
    manager: str = "mgr",
    force: bool = False,
) -> tuple[dict[str, Any], list[ManagerEntry]]:
    return apply(
        current,
        config,
        entries,
        manager=manager,
        api_version="v1",
        subresource="",
        force=force,
        builtin=True,
        now=NOW,
    )


def test_tracked_paths_skip_system_fields() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "n", "uid": "u", "labels": {"a": "b"}},
        "data": {"k": "v"},
    }
    assert tracked_paths(obj) == {("metadata", "labels", "a"), ("data", "k")}


def test_fields_v1_round_trip() -> None:
    paths = {("data", "k"), ("metadata", "labels", "a"), ("spec", "list")}
    assert decode_fields(encode_fields(paths)) == paths
    # A real server's list-map entries (k:...) make the list itself the owned leaf.
    assert decode_fields({"f:spec": {"f:containers": {'k:{"name":"a"}': {".": {}}}}}) == {
        ("spec", "containers")
    }


def test_apply_creates_then_removes_dropped_fields() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    obj, entries = _apply(None, config, [])
    assert obj["data"] == {"a": "1", "b": "2"}
    assert [(e.manager, e.operation) for e in entries] == [("mgr", "Apply")]
    smaller = {**config, "data": {"a": "1"}}
    obj, entries = _apply(obj, smaller, entries)
    assert obj["data"] == {"a": "1"}  # b was applied before and is no longer: removed
    assert entries[0].fields == {("data", "a")}


def test_apply_keeps_fields_owned_by_others() -> None:
    base = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    obj, entries = _apply(None, base, [])
    entries = record_update(
        entries,
        manager="editor",
        api_version="v1",
        subresource="",
        old=obj,
        new={**obj, "data": {"a": "1", "b": "2", "c": "3"}},
        now=NOW,
    )
    obj = {**obj, "data": {"a": "1", "b": "2", "c": "3"}}
    obj, entries = _apply(obj, {**base, "data": {"a": "1"}}, entries)
    assert obj["data"] == {"a": "1", "c": "3"}


def test_apply_conflicts_with_another_manager_unless_forced() -> None:
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    obj, entries = _apply(None, base, [], manager="first")
    with pytest.raises(ApiError) as info:
        _apply(obj, {**base, "data": {"a": "2"}}, entries, manager="second")
    assert info.value.code == 409
    assert info.value.causes[0].reason == "FieldManagerConflict"
    assert info.value.causes[0].field == ".data.a"
    # Same value: shared ownership, no conflict.
    _, shared = _apply(obj, base, entries, manager="second")
    assert {e.manager for e in shared} == {"first", "second"}
    forced, owners = _apply(
        obj, {**base, "data": {"a": "2"}}, entries, manager="second", force=True
    )
    assert forced["data"]["a"] == "2"
    assert {e.manager: e.fields for e in owners} == {"second": {("data", "a")}}


def test_update_takes_ownership_of_changed_fields() -> None:
    old = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    entries = [ManagerEntry("applier", "Apply", "v1", NOW, "", {("data", "a"), ("data", "b")})]
    new = {"metadata": {"name": "c"}, "data": {"a": "9", "b": "2"}}
    result = record_update(
        entries, manager="kubectl-edit", api_version="v1", subresource="", old=old, new=new, now=NOW
    )
    owners = {e.manager: e.fields for e in result}
    assert owners == {"applier": {("data", "b")}, "kubectl-edit": {("data", "a")}}
    rendered = render_entries(result)
    assert parse_entries({"managedFields": rendered})[1].fields == {("data", "a")}


def _deployment(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [container]}}, **spec},
    }


def test_adding_to_a_keyed_list_entry_is_no_conflict() -> None:
    """As on a real server (containers is a list-map keyed by name): another
    manager adding a volumeMount to kubectl's container, or a new container,
    takes nothing; changing kubectl's image or replicas does."""
    user = _deployment({"name": "app", "image": "app:1"}, replicas=3)
    obj, entries = _apply(None, user, [], manager="kubectl")
    mount = {"name": "app", "volumeMounts": [{"name": "p", "mountPath": "/p"}]}
    merged, owners = _apply(obj, _deployment(mount), entries, manager="upir-operator")
    (container,) = merged["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "app", "image": "app:1", "volumeMounts": mount["volumeMounts"]}
    assert "kubectl" in {e.manager for e in owners}
    sidecar = {"name": "sidecar", "image": "s:1"}
    merged, _ = _apply(obj, _deployment(sidecar), entries, manager="upir-operator")
    assert len(merged["spec"]["template"]["spec"]["containers"]) == 2
    with pytest.raises(ApiError) as info:
        _apply(obj, _deployment({"name": "app", "image": "app:2"}), entries, manager="other")
    assert info.value.causes[0].field == ".spec.template.spec.containers"
    with pytest.raises(ApiError) as info:
        _apply(obj, _deployment(mount, replicas=1), entries, manager="upir-operator")
    assert [c.field for c in info.value.causes] == [".spec.replicas"]
