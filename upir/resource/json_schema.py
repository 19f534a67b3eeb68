"""The UPIR schema as a JSON Schema (draft 2020-12), for editors and other tools.

Converted from the same OpenAPI v3 structure the CRD carries: Kubernetes
extensions (``x-kubernetes-*``) are dropped, ``nullable`` becomes a ``null`` type,
``x-kubernetes-int-or-string`` an integer-or-string, OpenAPI 3.0's boolean
``exclusiveMinimum`` the numeric form, and objects without
``x-kubernetes-preserve-unknown-fields`` reject unknown fields (as
``kubectl --validate=strict`` does). What JSON Schema cannot say (the CEL rules,
unique list keys) is checked by :func:`upir.resource.validate.schema_issues`;
a test checks that the two agree on everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from upir.resource.schema import API_VERSION, KIND, UPIR_SCHEMA

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_DROP = frozenset(
    {"nullable", "x-kubernetes-int-or-string", "exclusiveMinimum", "exclusiveMaximum"}
)


def convert(node: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAPI v3 (Kubernetes structural) schema node as JSON Schema."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = convert(value)
        elif isinstance(value, tuple | list):
            out[key] = list(value)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) and bound in out:
            out[exclusive] = out.pop(bound)
    if (
        node.get("type") == "object"
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def json_schema() -> dict[str, Any]:
    """:data:`~upir.resource.schema.UPIR_SCHEMA` as JSON Schema, as the API server reads it."""
    schema = convert(UPIR_SCHEMA)
    schema["$schema"] = DIALECT
    # The schema only narrows metadata.name; the rest of ObjectMeta is Kubernetes' business.
    schema["properties"]["metadata"].pop("additionalProperties", None)
    return schema


def document_json_schema() -> dict[str, Any]:
    """JSON Schema of a whole UPIR file (apiVersion, kind and metadata.name required),
    e.g. for an editor's YAML language server."""
    schema = json_schema()
    schema["title"] = KIND
    props = schema["properties"]
    props["apiVersion"] = {"const": API_VERSION, "description": props["apiVersion"]["description"]}
    props["kind"] = {"const": KIND, "description": props["kind"]["description"]}
    props["metadata"]["required"] = ["name"]
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    return schema
