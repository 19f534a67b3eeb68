"""The JSON Schema export agrees with the validator's structural checks."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upir.resource import UPIR_SCHEMA, document_json_schema, json_schema, structural_issues

VALIDATOR = jsonschema.Draft202012Validator(json_schema())

POOL = [None, True, False, 0, -1, 1.5, 5, 300, 2**40, "x", "gateway", "WITHIN", "service", "", "a" * 70,
        "gateway.retries", [], [1], ["x"], {}, {"name": "x"}, {"zzz": 1}, {"min": 1}]  # fmt: skip


def prune(value: Any, schema: Mapping[str, Any]) -> Any:
    """What the API server does before validating: drop null fields of objects."""
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        return {
            k: prune(v, props[k]) if k in props else v
            for k, v in value.items()
            if not (k in props and v is None)
        }
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), Mapping):
        return {k: prune(v, schema["additionalProperties"]) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [prune(v, schema["items"]) for v in value]
    return value


def test_document_schema_is_valid_json_schema(
    doc: dict[str, Any], status_example: dict[str, Any]
) -> None:
    schema = document_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    doc["status"] = status_example
    assert list(validator.iter_errors(doc)) == []
    doc["kind"] = "Pod"
    doc["spec"]["architecture"]["components"][0]["tyep"] = "service"
    assert {e.json_path for e in validator.iter_errors(doc)} == {
        "$.kind",
        "$.spec.architecture.components[0]",
    }


def test_conversion_of_openapi_keywords() -> None:
    from upir.resource.json_schema import convert

    assert convert({"type": "number", "minimum": 0, "exclusiveMinimum": True}) == {
        "type": "number",
        "exclusiveMinimum": 0,
    }
    assert convert({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert convert({"x-kubernetes-int-or-string": True}) == {
        "anyOf": [{"type": "integer"}, {"type": "string"}]
    }
    assert convert({"type": "object", "properties": {}}) == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    assert convert({"type": "object", "x-kubernetes-preserve-unknown-fields": True}) == {
        "type": "object"
    }


def slots(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path under node (containers and leaves)."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    out: list[tuple[Any, ...]] = []
    for key, value in items:
        out.append((*path, key))
        out.extend(slots(value, (*path, key)))
    return out


def agree(work: dict[str, Any]) -> bool:
    """Whether the document is valid, after checking both validators say the same."""
    ours = structural_issues(work)
    theirs = VALIDATOR.is_valid(prune(work, UPIR_SCHEMA))
    assert (ours == []) == theirs, (
        ours,
        [e.message for e in VALIDATOR.iter_errors(prune(work, UPIR_SCHEMA))],
    )
    return theirs


EDITS = [None, True, 0, -1, 1.5, 300, 2**40, "x", "", "a" * 70, [], ["x"], {}, {"zzz": 1}]


def test_every_single_edit_agrees(doc: dict[str, Any]) -> None:
    """Each slot of the example's spec, set to each kind of value, deleted, or given
    an unknown sibling: the validator and jsonschema agree on validity."""
    invalid = 0
    for path in slots(doc["spec"]):
        parent: Any = doc["spec"]
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        original = parent[last]
        for edit in [*EDITS, "delete", "sibling"]:
            if edit in ("delete", "sibling") and not isinstance(parent, dict):
                continue
            if edit == "delete":
                del parent[last]
            elif edit == "sibling":
                parent["zzz_unknown"] = 1
            else:
                parent[last] = edit
            invalid += not agree(doc)
            if isinstance(parent, dict):
                parent.pop("zzz_unknown", None)
            parent[last] = original  # restore (dict order does not matter to either validator)
    assert invalid > 500  # the edits did break the document in many ways


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_validator_and_json_schema_agree(
    doc: dict[str, Any], status_example: dict[str, Any], data: st.DataObject
) -> None:
    work = copy.deepcopy(doc)
    work["status"] = copy.deepcopy(status_example)
    for _ in range(data.draw(st.integers(1, 3))):
        node: Any = work["spec"]
        while data.draw(st.booleans()):
            children = [
                k
                for k, v in (node.items() if isinstance(node, dict) else enumerate(node))
                if isinstance(v, dict | list) and v
            ]
            if not children:
                break
            node = node[data.draw(st.sampled_from(children))]
        op = data.draw(st.sampled_from(["set", "delete", "add"]))
        if isinstance(node, dict) and node and op != "add":
            key = data.draw(st.sampled_from(list(node)))
            if op == "set":
                node[key] = copy.deepcopy(data.draw(st.sampled_from(POOL)))
            else:
                del node[key]
        elif isinstance(node, dict):
            node[data.draw(st.sampled_from(["extra", "min", "name", "type", "step"]))] = (
                copy.deepcopy(data.draw(st.sampled_from(POOL)))
            )
        elif isinstance(node, list):
            node.append(copy.deepcopy(data.draw(st.sampled_from(POOL))))
    agree(work)
