"""A CRD's structural schema: pruning, defaulting and validation messages."""

from __future__ import annotations

from upir_e2e.emulator.schema import apply_defaults, prune, validate

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["mode"],
            "properties": {
                "mode": {"type": "string", "enum": ["Off", "Auto"]},
                "replicas": {"type": "integer", "minimum": 1, "default": 1},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                    "maxItems": 2,
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "maybe": {"type": "string", "nullable": True},
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def test_prune_drops_undeclared_fields_and_reports_them() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n", "anything": 1},
        "spec": {"mode": "Auto", "bogus": 1, "free": {"deep": {"k": 1}}, "labels": {"a": "b"}},
        "status": {"phase": "P", "extra": True},
        "top": 1,
    }
    pruned, dropped = prune(obj, SCHEMA)
    assert pruned == {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n", "anything": 1},
        "spec": {"mode": "Auto", "free": {"deep": {"k": 1}}, "labels": {"a": "b"}},
        "status": {"phase": "P"},
    }
    assert sorted(dropped) == ["spec.bogus", "status.extra", "top"]


def test_defaults_fill_absent_fields_and_drop_null() -> None:
    spec = apply_defaults({"spec": {"mode": "Off", "replicas": None, "maybe": None}}, SCHEMA)[
        "spec"
    ]
    assert spec == {"mode": "Off", "replicas": 1, "maybe": None}


def test_validation_messages_match_the_api_server() -> None:
    obj = {
        "spec": {
            "replicas": 0,
            "mode": "Sometimes",
            "name": "TooLong",
            "port": 1.5,
            "tags": ["a", "a", "b"],
        },
    }
    causes = {(c.field, c.message) for c in validate(obj, SCHEMA)}
    assert (
        "spec.replicas",
        "Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
    ) in causes
    assert (
        "spec.mode",
        'Unsupported value: "Sometimes": supported values: "Off", "Auto"',
    ) in causes
    assert ("spec.name", "Too long: may not be more than 5 bytes") in causes
    assert any(f == "spec.name" and "should match" in m for f, m in causes)
    assert any(f == "spec.tags[1]" and m.startswith("Duplicate value") for f, m in causes)
    assert any(f == "spec.tags" and m.startswith("Too many: 3") for f, m in causes)
    assert any(f == "spec.port" for f, _ in causes)


def test_required_and_types() -> None:
    causes = {(c.field, c.message) for c in validate({"spec": {"replicas": "3"}}, SCHEMA)}
    assert ("spec.mode", "Required value") in causes
    assert (
        "spec.replicas",
        'Invalid value: "3": spec.replicas in body must be of type integer: "string"',
    ) in causes
    assert validate({"spec": {"mode": "Auto", "replicas": 2, "port": "http"}}, SCHEMA) == []
