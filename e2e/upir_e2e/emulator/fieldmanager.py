"""Field ownership (``metadata.managedFields``) and server-side apply.

Each write records which manager owns which fields, as a real server does:
an ``Update`` (create, replace, patch) takes ownership of the fields it
changed; an ``Apply`` owns exactly the fields of its applied configuration.
Applying takes away fields this manager applied before and no longer
applies (unless another manager owns them), and answers 409 Conflict when it
would change a field another manager owns, unless ``force=true``, which
transfers ownership.

The approximation: a field path is a chain of map keys and every list is one
leaf (the real server also tracks list-map entries by key). For the conflict
check, a keyed list of a built-in type (``containers`` by name, ``volumes``,
``env``, ...) is judged as the real server judges its entries: adding an entry,
or adding fields to an entry, changes nothing another manager owns; changing or
removing what was there does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, Cause
from .patching import _merge_key, apply_merge, json_equal

Path = tuple[str, ...]

# System fields nobody owns: the server sets them.
_UNTRACKED_TOP = frozenset({"apiVersion", "kind"})
_UNTRACKED_META = frozenset(
    {
        "name",
        "namespace",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


@dataclass
class ManagerEntry:
    """One ``managedFields[]`` entry."""

    manager: str
    operation: str  # Apply | Update
    api_version: str
    time: str
    subresource: str = ""
    fields: set[Path] = field(default_factory=set)

    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)


def _leaves(node: Mapping[str, Any], prefix: Path) -> Iterable[Path]:
    for key, value in node.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        else:
            yield path


def tracked_paths(obj: Mapping[str, Any]) -> set[Path]:
    """Leaf paths of an object that managers can own."""
    out: set[Path] = set()
    for path in _leaves(obj, ()):
        if path[0] in _UNTRACKED_TOP:
            continue
        if path[0] == "metadata" and len(path) > 1 and path[1] in _UNTRACKED_META:
            continue
        out.add(path)
    return out


_MISSING = object()


def get_path(obj: Any, path: Path) -> Any:
    node = obj
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _same(left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return left is right
    return json_equal(left, right)


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Remove a leaf and the maps it leaves empty on the way up."""
    chain: list[dict[str, Any]] = [obj]
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        node = node[key]
        chain.append(node)
    node.pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if chain[depth]:
            break
        chain[depth - 1].pop(path[depth - 1], None)


def _overlaps(left: Path, right: Path) -> bool:
    shorter = min(len(left), len(right))
    return left[:shorter] == right[:shorter]


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """Paths as the ``FieldsV1`` map of ``f:<key>`` entries."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def decode_fields(fields_v1: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, value in fields_v1.items():
        if key == ".":
            continue
        if not key.startswith("f:"):
            # A list-map entry (k:/v:/i:) written by a real server: own the list as a leaf.
            if prefix:
                out.add(prefix)
            continue
        path = (*prefix, key[2:])
        children = decode_fields(value, path) if isinstance(value, Mapping) and value else set()
        out |= children or {path}
    return out


def parse_entries(meta: Mapping[str, Any]) -> list[ManagerEntry]:
    entries = []
    for raw in meta.get("managedFields") or []:
        if not isinstance(raw, Mapping):
            continue
        entries.append(
            ManagerEntry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                subresource=str(raw.get("subresource", "")),
                fields=decode_fields(raw.get("fieldsV1") or {}),
            )
        )
    return entries


def render_entries(entries: Iterable[ManagerEntry]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        if not entry.fields:
            continue
        raw: dict[str, Any] = {
            "manager": entry.manager,
            "operation": entry.operation,
            "apiVersion": entry.api_version,
            "time": entry.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields(entry.fields),
        }
        if entry.subresource:
            raw["subresource"] = entry.subresource
        out.append(raw)
    return out


def _find(entries: list[ManagerEntry], key: tuple[str, str, str]) -> ManagerEntry | None:
    return next((e for e in entries if e.key() == key), None)


def record_update(
    entries: list[ManagerEntry],
    *,
    manager: str,
    api_version: str,
    subresource: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    now: str,
) -> list[ManagerEntry]:
    """Ownership after an Update: the manager takes the fields it changed."""
    new_paths = tracked_paths(new)
    old_paths = tracked_paths(old) if old is not None else set()
    changed = {
        p for p in new_paths | old_paths if not _same(get_path(old or {}, p), get_path(new, p))
    }
    result = [copy.copy(e) for e in entries]
    for entry in result:
        entry.fields = {
            p for p in entry.fields if p in new_paths and not any(_overlaps(p, c) for c in changed)
        }
    gained = changed & new_paths
    if gained:
        mine = _find(result, (manager, "Update", subresource))
        if mine is None:
            mine = ManagerEntry(manager, "Update", api_version, now, subresource)
            result.append(mine)
        mine.fields |= gained
        mine.time = now
        mine.api_version = api_version
    return [e for e in result if e.fields]


def apply(
    current: Mapping[str, Any] | None,
    config: Mapping[str, Any],
    entries: list[ManagerEntry],
    *,
    manager: str,
    api_version: str,
    subresource: str,
    force: bool,
    builtin: bool,
    now: str,
) -> tuple[dict[str, Any], list[ManagerEntry]]:
    """Server-side apply of ``config`` by ``manager``; 409 on a conflict unless ``force``."""
    base: dict[str, Any] = copy.deepcopy(dict(current)) if current is not None else {}
    merged = apply_merge(base, config, builtin=builtin)
    config_paths = tracked_paths(config)
    result = [copy.copy(e) for e in entries]
    mine = _find(result, (manager, "Apply", subresource))
    others = [e for e in result if e.manager != manager]

    # Fields this manager applied before and dropped now: remove unless someone else owns them.
    if mine is not None:
        for path in mine.fields - config_paths:
            if any(_overlaps(path, q) for e in others for q in e.fields):
                continue
            if any(_overlaps(path, c) for c in config_paths):
                continue
            remove_path(merged, path)

    conflicts: list[tuple[str, str, Path]] = []
    for entry in others:
        for path in entry.fields:
            before, after = get_path(base, path), get_path(merged, path)
            if _same(before, after):
                continue
            if builtin and path and _kept(path[-1], before, after):
                continue  # only added to a keyed list: nothing the owner set changed
            conflicts.append((entry.manager, entry.api_version, path))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    lost = {c[2] for c in conflicts}
    for entry in others:
        entry.fields -= lost
    for entry in result:
        if (
            entry.manager == manager
            and entry.operation == "Update"
            and entry.subresource == subresource
        ):
            entry.fields -= config_paths
    if mine is None:
        mine = ManagerEntry(manager, "Apply", api_version, now, subresource)
        result.append(mine)
    mine.fields = set(config_paths)
    mine.time = now
    mine.api_version = api_version
    new_paths = tracked_paths(merged)
    for entry in result:
        entry.fields = {p for p in entry.fields if p in new_paths}
    return merged, [e for e in result if e.fields]


def _kept(field: str, before: Any, after: Any) -> bool:
    """True when ``after`` keeps everything of ``before`` and only adds: a keyed
    list whose entries all survive (matched by merge key), each a superset."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return all(k in after and _kept(str(k), v, after[k]) for k, v in before.items())
    if isinstance(before, list) and isinstance(after, list):
        key = _merge_key(field, [*before, *after])
        if key is None:
            return json_equal(before, after)
        by_key = {
            _entry_key(item.get(key)): item
            for item in after
            if isinstance(item, Mapping) and key in item
        }
        for item in before:
            if not isinstance(item, Mapping) or key not in item:
                return False
            match = by_key.get(_entry_key(item[key]))
            if match is None or not _kept(field, item, match):
                return False
        return True
    return before is not _MISSING and after is not _MISSING and json_equal(before, after)


def _entry_key(value: Any) -> str:
    return repr(value)


def _render_path(path: Path) -> str:
    return "." + ".".join(path)


def _conflict_error(conflicts: list[tuple[str, str, Path]]) -> ApiError:
    causes = [
        Cause(
            "FieldManagerConflict", f'conflict with "{manager}" using {version}', _render_path(path)
        )
        for manager, version, path in sorted(conflicts)
    ]
    noun = "conflict" if len(causes) == 1 else "conflicts"
    lines = "\n".join(f"- {c.message}: {c.field}" for c in causes)
    return ApiError(
        409,
        "Conflict",
        f"Apply failed with {len(causes)} {noun}: {lines}"
        if len(causes) > 1
        else f"Apply failed with 1 conflict: {causes[0].message}: {causes[0].field}",
        causes=causes,
    )
