"""The ``/scale`` subresource: an ``autoscaling/v1 Scale`` view of an object's replicas.

Built-in workloads keep replicas at ``.spec.replicas``/``.status.replicas`` and
their selector at ``.spec.selector``; a custom resource names its paths in its
CRD (``subresources.scale``). Writing a Scale changes only the replica count
of the underlying object, under the object's resourceVersion.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from . import errors
from .records import Obj
from .registry import ResourceType
from .selectors import selector_from_label_selector_object

_BUILTIN = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("", "replicationcontrollers"),
    }
)


def _path(text: str) -> list[str]:
    return [p for p in text.strip().lstrip(".").split(".") if p]


def _get(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for key in _path(path):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _selector_text(selector: Any) -> str:
    if not isinstance(selector, Mapping):
        return ""
    if "matchLabels" in selector or "matchExpressions" in selector:
        parsed = selector_from_label_selector_object(selector)
        parts = []
        for req in parsed.requirements:
            if req.op == "=":
                parts.append(f"{req.key}={req.values[0]}")
            elif req.op in ("in", "notin"):
                parts.append(f"{req.key} {req.op} ({','.join(req.values)})")
            elif req.op == "exists":
                parts.append(req.key)
            else:
                parts.append(f"!{req.key}")
        return ",".join(parts)
    return ",".join(
        f"{k}={v}" for k, v in sorted(selector.items())
    )  # a ReplicationController's map


def paths(rt: ResourceType) -> tuple[str, str, str] | None:
    """(spec replicas, status replicas, selector) paths, or None without a scale subresource."""
    if "scale" not in rt.subresources:
        return None
    if rt.builtin:
        return (".spec.replicas", ".status.replicas", "") if rt.store_key in _BUILTIN else None
    return rt.scale_paths


def to_scale(rt: ResourceType, obj: Obj) -> Obj:
    found = paths(rt)
    if found is None:
        raise errors.page_not_found()
    spec_path, status_path, selector_path = found
    meta = obj["metadata"]
    replicas = _get(obj, spec_path)
    if replicas is None and rt.builtin:
        replicas = 1  # the built-in workloads' default
    selector = (
        _selector_text(_get(obj, ".spec.selector"))
        if rt.builtin
        else _get(obj, selector_path)
        if selector_path
        else None
    )
    status: dict[str, Any] = {"replicas": _get(obj, status_path) or 0}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": replicas or 0},
        "status": status,
    }


def with_replicas(rt: ResourceType, obj: Obj, scale: Any) -> Obj:
    """The object after writing ``scale`` (its resourceVersion kept for the conflict check)."""
    found = paths(rt)
    if found is None:
        raise errors.page_not_found()
    if not isinstance(scale, Mapping):
        raise errors.bad_request("the body of the request must be a Scale object")
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid(
            "Scale",
            "autoscaling",
            obj["metadata"]["name"],
            [
                errors.Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                    "spec.replicas",
                )
            ],
        )
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != obj["metadata"]["resourceVersion"]:
        raise errors.conflict(rt.plural, rt.group, obj["metadata"]["name"], errors.STALE)
    new = copy.deepcopy(obj)
    node = new
    keys = _path(found[0])
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = replicas
    return new
