"""The patch formats the API server accepts, applied to plain JSON documents.

* JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists replace.
* JSON patch (RFC 6902): add/remove/replace/move/copy/test; a failing ``test``
  or a missing path is a 422, as on a real server (kopf relies on this for
  its optimistic finalizer patches).
* Strategic merge patch, for built-in types only (a real server answers 415
  for custom resources): a merge patch whose lists of known built-in fields
  merge by key (containers by ``name``, conditions by ``type``, ...) and which
  honours the ``$patch``, ``$retainKeys``, ``$deleteFromPrimitiveList`` and
  ``$setElementOrder`` directives. The merge keys are looked up by field name,
  not by the full Go type as the real server does: an approximation.

All functions return new documents and never mutate their inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ApiError, Cause

JSON = Any

# Field name -> merge key of that list in built-in types (strategic merge patch).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "secrets": "name",
    "resourceClaims": "name",
}

# Lists of scalars that a strategic merge patch unions instead of replacing.
MERGED_PRIMITIVE_LISTS: frozenset[str] = frozenset({"finalizers"})


class PatchError(ApiError):
    """A patch that cannot be applied: 422 like the real server."""

    def __init__(self, message: str) -> None:
        super().__init__(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            causes=[Cause("FieldValueInvalid", message, "patch")],
        )


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------- merge patch


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ----------------------------------------------------------------- json patch


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: 1 == 1.0 as in Go, but true != 1 (unlike Python)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right


def _parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool, pointer: str) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {pointer}")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of bounds in {pointer}")
    return index


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"doc is missing path: {pointer}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False, pointer=pointer)]
        else:
            raise PatchError(f"doc is missing path: {pointer}")
    return node


def _get(doc: Any, pointer: str) -> Any:
    node = doc
    for token in _parse_pointer(pointer):
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"doc is missing path: {pointer}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False, pointer=pointer)]
        else:
            raise PatchError(f"doc is missing path: {pointer}")
    return node


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return copy.deepcopy(value)
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True, pointer=pointer), copy.deepcopy(value))
    else:
        raise PatchError(f"doc is missing path: {pointer}")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    tokens = _parse_pointer(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, for_add=False, pointer=pointer))
    raise PatchError(f"doc is missing path: {pointer}")


def json_patch(doc: JSON, ops: JSON) -> JSON:
    """RFC 6902 JSON patch; :class:`PatchError` (422) on a failed test or a bad path."""
    if not isinstance(ops, list):
        raise _bad("json patch must be a list of operations")
    result = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise _bad(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], str(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _bad(f"missing value for json patch operation {kind!r} at {path}")
        if kind == "add":
            result = _add(result, path, op["value"])
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            _get(result, path)  # must exist
            if path == "":
                result = copy.deepcopy(op["value"])
            else:
                result, _ = _remove(result, path)
                result = _add(result, path, op["value"])
        elif kind == "move":
            source = str(op.get("from", ""))
            result, value = _remove(result, source)
            result = _add(result, path, value)
        elif kind == "copy":
            value = _get(result, str(op.get("from", "")))
            result = _add(result, path, value)
        elif kind == "test":
            if not json_equal(_get(result, path), op["value"]):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise _bad(f"Unexpected kind: {kind}")
    return result


# ------------------------------------------------------- strategic merge patch


def _merge_key(field: str, items: Sequence[Any]) -> str | None:
    if field == "ports":  # containers have containerPort, services have port
        for item in items:
            if isinstance(item, Mapping):
                return "containerPort" if "containerPort" in item else "port"
        return None
    return MERGE_KEYS.get(field)


def strategic_merge_patch(target: JSON, patch: JSON) -> JSON:
    """Strategic merge patch with built-in merge keys (see module docstring)."""
    if not isinstance(patch, Mapping):
        raise _bad("strategic merge patch must be a JSON object")
    result = _smp_map(target if isinstance(target, Mapping) else {}, patch)
    return {} if result is _DELETE else result


_DELETE = object()


def _smp_map(target: Mapping[str, Any], patch: Mapping[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    result: dict[str, Any] = copy.deepcopy(dict(target))
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            merged = _smp_map(current if isinstance(current, Mapping) else {}, value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    current_list = current if isinstance(current, list) else []
    if any(isinstance(item, Mapping) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, Mapping) and "$patch" in i)]
    if field in MERGED_PRIMITIVE_LISTS and all(not isinstance(i, Mapping) for i in patch):
        merged = list(current_list)
        for item in patch:
            if item not in merged:
                merged.append(item)
        return merged
    key = _merge_key(field, [*patch, *current_list])
    if key is None or not all(isinstance(i, Mapping) for i in patch):
        return copy.deepcopy(patch)
    merged = [copy.deepcopy(i) for i in current_list]
    for item in patch:
        ident = item.get(key)
        found = next(
            (
                n
                for n, old in enumerate(merged)
                if isinstance(old, Mapping) and old.get(key) == ident
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if found is not None:
                del merged[found]
            continue
        if found is None:
            merged.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            updated = _smp_map(merged[found], item)
            if updated is _DELETE:
                del merged[found]
            else:
                merged[found] = updated
    return merged


def apply_merge(target: JSON, config: JSON, *, builtin: bool) -> JSON:
    """Merge an applied configuration into an object (server-side apply's merge step).

    Maps merge recursively; lists are atomic for custom resources and merge by the
    built-in merge keys for built-in types (a field-name approximation of the
    real server's list-map types).
    """
    if not isinstance(config, Mapping):
        return copy.deepcopy(config)
    result: dict[str, Any] = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in config.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            result[key] = apply_merge(result.get(key), value, builtin=builtin)
        elif isinstance(value, list) and builtin:
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result
