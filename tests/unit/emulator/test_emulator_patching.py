"""Merge patch, JSON patch and strategic merge patch as the API server applies them."""

from __future__ import annotations

import pytest
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.patching import (
    PatchError,
    apply_merge,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)


def test_merge_patch_rfc7386() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}
    result = merge_patch(target, {"a": {"b": None, "d": 4}, "l": [3], "x": None})
    assert result == {"a": {"c": 2, "d": 4}, "l": [3]}
    assert target == {"a": {"b": 1, "c": 2}, "l": [1, 2], "x": 1}  # input untouched


def test_json_patch_operations() -> None:
    doc = {"metadata": {"resourceVersion": "7", "finalizers": ["a"]}, "spec": {"x": 1}}
    result = json_patch(
        doc,
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
            {"op": "replace", "path": "/spec/x", "value": 2},
            {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
            {"op": "move", "from": "/spec/y", "path": "/spec/z"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "add", "path": "/metadata/annotations", "value": {"a~b/c": "v"}},
        ],
    )
    assert result == {
        "metadata": {"resourceVersion": "7", "finalizers": ["b"], "annotations": {"a~b/c": "v"}},
        "spec": {"x": 2, "z": 2},
    }
    escaped = json_patch(result, [{"op": "remove", "path": "/metadata/annotations/a~0b~1c"}])
    assert escaped["metadata"]["annotations"] == {}


def test_failed_json_patch_test_is_422() -> None:
    with pytest.raises(PatchError) as info:
        json_patch(
            {"metadata": {"resourceVersion": "8"}},
            [{"op": "test", "path": "/metadata/resourceVersion", "value": "7"}],
        )
    assert info.value.code == 422
    assert info.value.reason == "Invalid"


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/nope"}],
        [{"op": "replace", "path": "/a/b", "value": 1}],
        [{"op": "add", "path": "/l/5", "value": 1}],
    ],
)
def test_json_patch_bad_paths_are_422(ops: list[dict[str, object]]) -> None:
    with pytest.raises(PatchError):
        json_patch({"l": [1]}, ops)


def test_json_patch_malformed_is_400() -> None:
    with pytest.raises(ApiError) as info:
        json_patch({}, {"op": "add"})
    assert info.value.code == 400


def test_json_equal_follows_json_not_python() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert json_equal({"a": [1, {"b": False}]}, {"a": [1.0, {"b": False}]})


def test_strategic_merge_merges_lists_by_key() -> None:
    target = {
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                {"name": "b", "image": "b:1"},
            ],
            "tolerations": [{"key": "t1"}],
        },
        "metadata": {"finalizers": ["f1"]},
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "env": [{"name": "Y", "value": "2"}]},
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "c:1"},
            ],
            "tolerations": [{"key": "t2"}],
        },
        "metadata": {"finalizers": ["f2"]},
    }
    result = strategic_merge_patch(target, patch)
    containers = result["spec"]["containers"]
    assert [c["name"] for c in containers] == ["a", "c"]
    assert containers[0]["image"] == "a:1"
    assert containers[0]["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert result["spec"]["tolerations"] == [{"key": "t2"}]  # no merge key: replaced
    assert result["metadata"]["finalizers"] == ["f1", "f2"]  # merged primitive list


def test_strategic_merge_directives() -> None:
    target = {"spec": {"a": {"x": 1, "y": 2}, "b": 1, "finalizers": ["p", "q"]}}
    result = strategic_merge_patch(
        target,
        {
            "spec": {
                "a": {"$patch": "replace", "z": 3},
                "$retainKeys": ["a", "finalizers"],
                "$deleteFromPrimitiveList/finalizers": ["p"],
            }
        },
    )
    assert result == {"spec": {"a": {"z": 3}, "finalizers": ["q"]}}
    assert strategic_merge_patch({"a": {"b": 1}}, {"a": {"$patch": "delete"}}) == {}


def test_apply_merge_lists_atomic_for_custom_resources() -> None:
    current = {"spec": {"items": [{"name": "a", "v": 1}], "keep": 1}}
    config = {"spec": {"items": [{"name": "b"}]}}
    assert apply_merge(current, config, builtin=False)["spec"] == {
        "items": [{"name": "b"}],
        "keep": 1,
    }
    containers = apply_merge(
        {"spec": {"containers": [{"name": "a", "image": "x"}]}},
        {"spec": {"containers": [{"name": "b"}]}},
        builtin=True,
    )
    assert [c["name"] for c in containers["spec"]["containers"]] == ["a", "b"]
