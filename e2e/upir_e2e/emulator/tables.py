"""Server-side printing (``meta.k8s.io/v1 Table``) for ``kubectl get``.

kubectl asks for ``application/json;as=Table;g=meta.k8s.io;v=v1``. Custom
resources get NAME plus their CRD's ``additionalPrinterColumns`` (or AGE when
there are none), as on a real server; built-in types get NAME and AGE only
(a real server prints more columns for them).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .registry import ResourceType

_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE_COLUMN = {
    "name": "Age",
    "type": "date",
    "format": "",
    "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
    "priority": 0,
}


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in accept.split(","))


def human_duration(seconds: float) -> str:
    """The Kubernetes ``duration.HumanDuration`` rendering (e.g. ``5m30s``, ``3h``, ``2d4h``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]|\[\*\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """A subset of JSONPath as CRD printer columns use it: ``.a.b``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    nodes: list[Any] = [obj]
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            return []
        key, index, filter_key, filter_value = match.groups()
        found: list[Any] = []
        for node in nodes:
            if key is not None and isinstance(node, Mapping) and key in node:
                found.append(node[key])
            elif index is not None and isinstance(node, list) and int(index) < len(node):
                found.append(node[int(index)])
            elif filter_key is not None and isinstance(node, list):
                for item in node:
                    value: Any = item
                    for part in filter_key.split("."):
                        value = value.get(part) if isinstance(value, Mapping) else None
                    if value is not None and str(value) == filter_value:
                        found.append(item)
            elif match.group(0) == "[*]" and isinstance(node, list):
                found.extend(node)
        nodes = found
        pos = match.end()
    return nodes


def _age(timestamp: Any, now: datetime.datetime) -> str:
    try:
        moment = datetime.datetime.strptime(str(timestamp), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.UTC
        )
    except ValueError:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _cell(values: list[Any], column: Mapping[str, Any], now: datetime.datetime) -> Any:
    if not values:
        return None
    value = values[0] if len(values) == 1 else ",".join(str(v) for v in values)
    kind = column.get("type")
    if kind == "date":
        return _age(value, now)
    if kind in ("integer", "number", "boolean") and not isinstance(value, str):
        return value
    return value if isinstance(value, str) else json.dumps(value)


def _partial_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    rt: ResourceType,
    objects: Sequence[Mapping[str, Any]],
    list_meta: Mapping[str, Any],
    now: datetime.datetime,
    include_object: str = "Metadata",
) -> dict[str, Any]:
    """A Table of ``objects`` (already rendered at ``rt``'s version)."""
    extra = [dict(c) for c in rt.printer_columns] if rt.printer_columns else []
    columns: list[dict[str, Any]] = [dict(_NAME_COLUMN)]
    if extra:
        for column in extra:
            columns.append(
                {
                    "name": column.get("name", ""),
                    "type": column.get("type", "string"),
                    "format": column.get("format", ""),
                    "description": column.get("description", ""),
                    "priority": int(column.get("priority", 0)),
                }
            )
    else:
        columns.append(dict(_AGE_COLUMN))
    rows = []
    for obj in objects:
        cells: list[Any] = [obj.get("metadata", {}).get("name")]
        if extra:
            cells += [_cell(jsonpath(obj, str(c.get("jsonPath", ""))), c, now) for c in extra]
        else:
            cells.append(_age(obj.get("metadata", {}).get("creationTimestamp"), now))
        row: dict[str, Any] = {"cells": cells}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta),
        "columnDefinitions": columns,
        "rows": rows,
    }
