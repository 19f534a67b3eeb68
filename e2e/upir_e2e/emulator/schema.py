"""A CustomResourceDefinition's structural schema: pruning, defaulting, validation.

A real server silently drops fields the schema does not declare (pruning),
fills in ``default`` values, and rejects objects the schema forbids with 422.
An operator that writes an undeclared status field sees it vanish on a real
cluster; here too. Supported keywords: type, properties, additionalProperties,
items, required, enum, nullable, default, minimum/maximum (and exclusive
forms), multipleOf, minLength/maxLength, pattern, minItems/maxItems,
uniqueItems, minProperties/maxProperties, allOf/anyOf/oneOf/not,
x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
x-kubernetes-embedded-resource, x-kubernetes-list-type (set/map uniqueness).
Not supported: CEL rules (x-kubernetes-validations) and ``format``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import Cause

Schema = Mapping[str, Any]

_ROOT_KEPT = ("apiVersion", "kind", "metadata")


def prune(obj: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], list[str]]:
    """Drop the fields the schema does not declare; returns the object and the dropped paths.

    The root apiVersion, kind and metadata always stay.
    """
    kept = {k: obj[k] for k in _ROOT_KEPT if k in obj}
    rest = {k: v for k, v in obj.items() if k not in _ROOT_KEPT}
    body = {k: v for k, v in schema.get("properties", {}).items() if k not in _ROOT_KEPT}
    dropped: list[str] = []
    pruned = _prune(rest, {**schema, "properties": body}, "", dropped)
    return {**kept, **(pruned if isinstance(pruned, dict) else {})}, dropped


def _prune(value: Any, schema: Schema, path: str, dropped: list[str]) -> Any:
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in props:
                out[key] = _prune(item, props[key], where, dropped)
            elif isinstance(additional, Mapping):
                out[key] = _prune(item, additional, where, dropped)
            elif preserve or additional is True or (embedded and key in _ROOT_KEPT):
                out[key] = item
            else:
                dropped.append(where)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_prune(item, items, f"{path}[{i}]", dropped) for i, item in enumerate(value)]
        return value
    return value


def apply_defaults(value: Any, schema: Schema) -> Any:
    """Fill ``default`` values of absent fields; drop nulls of non-nullable fields."""
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        out = dict(value)
        for key, sub in props.items():
            if key in out and out[key] is None and not sub.get("nullable"):
                del out[key]
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = apply_defaults(out[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key in list(out):
                if key not in props:
                    out[key] = apply_defaults(out[key], additional)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + type(value).__name__ + '"'


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, kind: str, schema: Schema) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def validate(obj: Mapping[str, Any], schema: Schema) -> list[Cause]:
    """All schema violations of an object (root apiVersion/kind/metadata excluded)."""
    causes: list[Cause] = []
    body = {k: v for k, v in obj.items() if k not in _ROOT_KEPT}
    props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_KEPT}
    required = [r for r in schema.get("required") or [] if r not in _ROOT_KEPT]
    _validate(body, {**schema, "properties": props, "required": required}, "", causes)
    return causes


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _validate(value: Any, schema: Schema, path: str, causes: list[Cause]) -> None:
    where = path or "<root>"
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    f'Invalid value: "null": {where} in body must be of type {schema["type"]}: "null"',
                    where,
                )
            )
        return
    kind = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        kind = "integer,string"
    if kind and not _type_ok(value, str(kind), schema):
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                f'Invalid value: {_render(value)}: {where} in body must be of type {kind}: "{_json_type(value)}"',
                where,
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_render(v) for v in schema["enum"])
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_render(value)}: supported values: {supported}",
                where,
            )
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, where, causes)
    if isinstance(value, str):
        _validate_string(value, schema, where, causes)
    if isinstance(value, list):
        _validate_array(value, schema, path, causes)
    if isinstance(value, dict):
        _validate_object(value, schema, path, causes)
    for sub in schema.get("allOf") or []:
        _validate(value, sub, path, causes)
    for key, need in (("anyOf", "any"), ("oneOf", "one")):
        options = schema.get(key)
        if options:
            passing = sum(1 for sub in options if not _errors(value, sub, path))
            if (need == "any" and passing == 0) or (need == "one" and passing != 1):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f"Invalid value: {_render(value)}: {where} in body must validate {'at least one' if need == 'any' else 'exactly one'} schema ({key})",
                        where,
                    )
                )
    if isinstance(schema.get("not"), Mapping) and not _errors(value, schema["not"], path):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {where} in body should not validate the given schema",
                where,
            )
        )


def _errors(value: Any, schema: Schema, path: str) -> list[Cause]:
    found: list[Cause] = []
    _validate(value, schema, path, found)
    return found


def _validate_number(value: float, schema: Schema, where: str, causes: list[Cause]) -> None:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None:
        if schema.get("exclusiveMinimum") and value <= lo:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {where} in body should be greater than {lo}",
                    where,
                )
            )
        elif value < lo:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {where} in body should be greater than or equal to {lo}",
                    where,
                )
            )
    if hi is not None:
        if schema.get("exclusiveMaximum") and value >= hi:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {where} in body should be less than {hi}",
                    where,
                )
            )
        elif value > hi:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {_render(value)}: {where} in body should be less than or equal to {hi}",
                    where,
                )
            )
    step = schema.get("multipleOf")
    if step and (value / step) != int(value / step):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {where} in body should be a multiple of {step}",
                where,
            )
        )


def _validate_string(value: str, schema: Schema, where: str, causes: list[Cause]) -> None:
    if schema.get("maxLength") is not None and len(value) > schema["maxLength"]:
        causes.append(
            Cause(
                "FieldValueTooLong",
                f"Too long: may not be more than {schema['maxLength']} bytes",
                where,
            )
        )
    if schema.get("minLength") is not None and len(value) < schema["minLength"]:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {where} in body should be at least {schema['minLength']} chars long",
                where,
            )
        )
    pattern = schema.get("pattern")
    if pattern and not re.search(str(pattern), value):
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {_render(value)}: {where} in body should match '{pattern}'",
                where,
            )
        )


def _validate_array(value: list[Any], schema: Schema, path: str, causes: list[Cause]) -> None:
    where = path or "<root>"
    if schema.get("maxItems") is not None and len(value) > schema["maxItems"]:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                where,
            )
        )
    if schema.get("minItems") is not None and len(value) < schema["minItems"]:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {where} in body should have at least {schema['minItems']} items",
                where,
            )
        )
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                causes.append(
                    Cause(
                        "FieldValueDuplicate",
                        f"Duplicate value: {_render(item)}",
                        f"{where}[{index}]",
                    )
                )
            seen.append(item)
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                ident = tuple(item.get(k) for k in keys)
                if ident in seen_keys:
                    causes.append(
                        Cause(
                            "FieldValueDuplicate",
                            f"Duplicate value: {json.dumps(dict(zip(keys, ident, strict=True)))}",
                            f"{where}[{index}]",
                        )
                    )
                seen_keys.append(ident)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(item, items, f"{path}[{index}]", causes)


def _validate_object(value: dict[str, Any], schema: Schema, path: str, causes: list[Cause]) -> None:
    where = path or "<root>"
    for key in schema.get("required") or []:
        if key not in value:
            causes.append(Cause("FieldValueRequired", "Required value", _join(path, key)))
    if schema.get("maxProperties") is not None and len(value) > schema["maxProperties"]:
        causes.append(
            Cause(
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {schema['maxProperties']} items",
                where,
            )
        )
    if schema.get("minProperties") is not None and len(value) < schema["minProperties"]:
        causes.append(
            Cause(
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {where} in body should have at least {schema['minProperties']} properties",
                where,
            )
        )
    props: Mapping[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in props:
            _validate(item, props[key], _join(path, key), causes)
        elif isinstance(additional, Mapping):
            _validate(item, additional, _join(path, key), causes)
