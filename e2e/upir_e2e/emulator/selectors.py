"""Label and field selectors with the API server's grammar and semantics.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a`` (exists), ``!a`` (does not exist), ``a>1``, ``a<1``; comma-separated,
all must hold. ``!=`` and ``notin`` also match objects without the label,
as on a real server.

Field selectors: ``f=v``, ``f==v``, ``f!=v``, comma-separated, with ``\\,``
``\\=`` and ``\\\\`` escapes. Which fields are selectable depends on the
resource (see :func:`selectable_fields`); an unknown field is a 400, as on a
real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request
from .validation import label_value, qualified_name


@dataclass(frozen=True)
class Requirement:
    """One label requirement. ``op`` is one of =, !=, in, notin, exists, !, gt, lt."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            if not present:
                return False
            try:
                have, want = int(str(value)), int(self.values[0])
            except ValueError:
                return False
            return have > want if self.op == "gt" else have < want
        raise AssertionError(self.op)  # parse() only builds the ops above


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_SET_OP = re.compile(r"^\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_BIN_OP = re.compile(r"^\s*([^\s!=<>(),]+)\s*(==|=|!=|>|<)\s*([^\s!=<>(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=<>(),]+)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _check_key(key: str, text: str) -> None:
    msg = qualified_name(key)
    if msg:
        raise bad_request(f'unable to parse requirement: invalid label key "{key}": {msg} ({text})')


def _check_value(value: str, text: str) -> None:
    msg = label_value(value)
    if msg:
        raise bad_request(
            f'unable to parse requirement: invalid label value: "{value}": {msg} ({text})'
        )


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query parameter; 400 on a syntax error."""
    if text is None or not text.strip():
        return LabelSelector()
    requirements: list[Requirement] = []
    for part in _split_top_level(text):
        if not part.strip():
            raise bad_request(
                f"unable to parse requirement: found '', expected: identifier ({text})"
            )
        if match := _SET_OP.match(part):
            key, op, raw = match.groups()
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            _check_key(key, text)
            for value in values:
                _check_value(value, text)
            requirements.append(Requirement(key, op, tuple(sorted(set(values)))))
        elif match := _BIN_OP.match(part):
            key, op, value = match.groups()
            _check_key(key, text)
            if op in (">", "<"):
                if not re.fullmatch(r"-?\d+", value):
                    raise bad_request(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer ({text})"
                    )
                requirements.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
            else:
                _check_value(value, text)
                requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
        elif match := _EXISTS.match(part):
            bang, key = match.groups()
            _check_key(key, text)
            requirements.append(Requirement(key, "!" if bang else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {part.strip()!r} ({text})")
    return LabelSelector(tuple(requirements))


def selector_from_label_selector_object(obj: Mapping[str, Any]) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels/matchExpressions) as a :class:`LabelSelector`."""
    reqs: list[Requirement] = []
    for key, value in (obj.get("matchLabels") or {}).items():
        reqs.append(Requirement(str(key), "=", (str(value),)))
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in obj.get("matchExpressions") or []:
        op = ops.get(str(expr.get("operator")))
        if op is None:
            raise bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        reqs.append(
            Requirement(str(expr.get("key")), op, tuple(str(v) for v in expr.get("values") or []))
        )
    return LabelSelector(tuple(reqs))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for req in self.requirements:
            have = fields.get(req.field, "")
            if (have == req.value) == req.negate:
                return False
        return True

    @property
    def names(self) -> set[str]:
        """Names pinned by ``metadata.name=X`` (used to narrow a watch or a list)."""
        return {r.value for r in self.requirements if r.field == "metadata.name" and not r.negate}


def _split_escaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(char + text[index + 1])
            index += 2
            continue
        if char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, allowed: set[str]) -> FieldSelector:
    """Parse a ``fieldSelector``; a field outside ``allowed`` is a 400 as on a real server."""
    if text is None or not text.strip():
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for part in _split_escaped(text, ","):
        if not part:
            continue
        for op in ("!=", "==", "="):
            index = _find_unescaped(part, op)
            if index >= 0:
                field = _unescape(part[:index]).strip()
                value = _unescape(part[index + len(op) :])
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, value, op == "!="))
    return FieldSelector(tuple(reqs))


def _find_unescaped(text: str, needle: str) -> int:
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text.startswith(needle, index):
            return index
        index += 1
    return -1


def _get_path(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return ""
        node = node[key]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


# Extra selectable fields of built-in types, beyond metadata.name/metadata.namespace.
_BUILTIN_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "events"): (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    ("events.k8s.io", "events"): (
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ),
    ("", "secrets"): ("type",),
    ("", "pods"): (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("", "namespaces"): ("status.phase",),
    ("", "nodes"): ("spec.unschedulable",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
}


def selectable_fields(group: str, plural: str, extra: tuple[str, ...] = ()) -> set[str]:
    """Field names a field selector may use for this resource (``extra``: a CRD's selectableFields)."""
    return {
        "metadata.name",
        "metadata.namespace",
        *_BUILTIN_FIELDS.get((group, plural), ()),
        *extra,
    }


def field_getter(fields: set[str]) -> Callable[[Mapping[str, Any]], dict[str, str]]:
    """A function giving an object's values of the selectable ``fields``."""

    def get(obj: Mapping[str, Any]) -> dict[str, str]:
        out = {name: _get_path(obj, name) for name in fields}
        if "source" in fields:  # core/v1 events select on source.component as "source"
            out["source"] = _get_path(obj, "source.component")
        return out

    return get


__all__ = [
    "ApiError",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "field_getter",
    "parse_field_selector",
    "parse_label_selector",
    "selectable_fields",
    "selector_from_label_selector_object",
]
