"""Building blocks of the UPIR schema: name patterns and node constructors.

Every node gets a ``description`` (``kubectl explain`` shows it). Patterns use
only the regular-expression syntax that Go's RE2 (the API server) and Python's
``re`` share, and each has a plain-English wording in :data:`PATTERN_HINTS` for
error messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from upir.resource.rules import CelRule

# A component name is used in expressions as <component>.<param>, so it must be
# an identifier.
COMPONENT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
PARAMETER_NAME_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
PROPERTY_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
HTTP_URL_PATTERN = r"^https?://[^\s/$.?#][^\s]*$"
# metav1.Condition's own patterns (k8s.io/apimachinery/pkg/apis/meta/v1/types.go)
CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

PATTERN_HINTS: Mapping[str, str] = MappingProxyType(
    {
        COMPONENT_NAME_PATTERN: (
            "must be a lowercase identifier of at most 63 characters: a letter, then letters, "
            "digits or '_' (it is used in expressions as <component>.<param>)"
        ),
        PARAMETER_NAME_PATTERN: "must be <component>.<param>, e.g. gateway.timeout_ms",
        PROPERTY_NAME_PATTERN: (
            "must be at most 63 characters: a letter, then letters, digits, '_' or '-'"
        ),
        DNS_LABEL_PATTERN: (
            "must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        ),
        DNS_SUBDOMAIN_PATTERN: (
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        ),
        HTTP_URL_PATTERN: "must be an http:// or https:// URL",
        CONDITION_TYPE_PATTERN: "must be a CamelCase condition type, optionally prefixed by a domain/",
        CONDITION_REASON_PATTERN: "must be a CamelCase reason: a letter, then letters, digits, '_', ',' or ':'",
    }
)
"""Plain-English wording of each pattern, for error messages."""

Schema = dict[str, Any]


# ------------------------------------------------------------------ builders


def validations(rules: Sequence[CelRule]) -> Schema:
    return {"x-kubernetes-validations": [r.validation() for r in rules]} if rules else {}


def string(
    description: str,
    *,
    max_length: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    enum: Sequence[str] | None = None,
    fmt: str | None = None,
) -> Schema:
    out: Schema = {"type": "string", "description": description}
    if enum is not None:
        out["enum"] = list(enum)
    if fmt is not None:
        out["format"] = fmt
    if min_length is not None:
        out["minLength"] = min_length
    if max_length is not None:
        out["maxLength"] = max_length
    if pattern is not None:
        if pattern not in PATTERN_HINTS:
            raise ValueError(f"pattern {pattern!r} needs a PATTERN_HINTS entry")
        out["pattern"] = pattern
    return out


def number(
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    integer: bool = False,
) -> Schema:
    out: Schema = {"type": "integer" if integer else "number", "description": description}
    if integer:
        out["format"] = "int64"
    if minimum is not None:
        out["minimum"] = minimum
        if exclusive_minimum:
            out["exclusiveMinimum"] = True
    if maximum is not None:
        out["maximum"] = maximum
    return out


def obj(
    description: str,
    properties: Mapping[str, Schema],
    *,
    required: Sequence[str] = (),
    rules: Sequence[CelRule] = (),
) -> Schema:
    out: Schema = {"type": "object", "description": description}
    if required:
        out["required"] = list(required)
    out["properties"] = dict(properties)
    out.update(validations(rules))
    return out


def map_of(description: str, values: Schema, *, max_properties: int) -> Schema:
    return {
        "type": "object",
        "description": description,
        "maxProperties": max_properties,
        "additionalProperties": values,
    }


def list_of(
    description: str,
    items: Schema,
    *,
    max_items: int,
    min_items: int | None = None,
    map_key: str | None = None,
    rules: Sequence[CelRule] = (),
) -> Schema:
    out: Schema = {"type": "array", "description": description}
    if min_items is not None:
        out["minItems"] = min_items
    out["maxItems"] = max_items
    if map_key is not None:
        # The API server enforces unique keys (and server-side apply merges by key).
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = [map_key]
    out["items"] = items
    out.update(validations(rules))
    return out


def free_object(description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain mutable deep copy (dicts and lists) of a frozen structure."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
