"""The generated CRD: no drift from the schema, and a valid structural apiextensions/v1 CRD."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from upir.resource import UPIR_SCHEMA, build_crd, crd_yaml
from upir.resource.definition import REGENERATE_COMMAND
from upir.resource.rules import TWINS
from upir.resource.schema import PATTERN_HINTS

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "crds" / "upir.dev_upirs.yaml"

SCHEMA_KEYS = frozenset(
    {
        "type", "description", "properties", "required", "items", "additionalProperties", "enum",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "pattern", "minItems", "maxItems", "minProperties", "maxProperties", "format", "nullable",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
        "x-kubernetes-validations", "default",
    }
)  # fmt: skip
TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean"})


def nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def test_committed_file_is_the_generated_one() -> None:
    text = CRD_FILE.read_text(encoding="utf-8")
    assert text == crd_yaml(), f"crds/upir.dev_upirs.yaml is stale; run: {REGENERATE_COMMAND}"
    assert yaml.safe_load(text) == build_crd()
    assert text.startswith("# GENERATED FILE") and REGENERATE_COMMAND in text


def test_module_prints_the_crd() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "upir.resource.crd"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.stdout == crd_yaml()
    assert out.stderr == ""


def test_build_crd_is_pure() -> None:
    first = build_crd()
    first["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].clear()
    first["spec"]["names"]["shortNames"].append("x")
    assert build_crd() != first
    assert build_crd() == build_crd()
    with pytest.raises(TypeError):
        UPIR_SCHEMA["properties"]["spec"]["type"] = "string"  # type: ignore[index]


def test_names_scope_and_columns() -> None:
    crd = build_crd()
    assert crd["metadata"]["name"] == "upirs.upir.dev"
    spec = crd["spec"]
    assert spec["group"] == "upir.dev" and spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "UPIR", "listKind": "UPIRList", "plural": "upirs", "singular": "upir", "shortNames": ["up"],
    }  # fmt: skip
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Verdict": ".status.verdict",
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Conformant": '.status.conditions[?(@.type=="Conformant")].status',
        "Mode": ".spec.tuning.mode",
        "Latency": ".status.measuredLatencyMs",
        "Age": ".metadata.creationTimestamp",
    }


def test_valid_against_the_kubernetes_crd_schema() -> None:
    # kubernetes-validate checks the manifest against apiextensions.k8s.io/v1's own
    # OpenAPI schema, offline; strict mode rejects unknown fields anywhere.
    assert kubernetes_validate.validate(build_crd(), "1.37.0", strict=True) == "1.37"
    broken = build_crd()
    broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["maxItem"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)


def test_schema_is_structural() -> None:
    """The rules the API server applies to a v1 CRD schema (structural schemas,
    list-type maps, CEL fieldPaths, metadata restrictions)."""
    root = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert root["type"] == "object"
    meta = root["properties"]["metadata"]
    assert set(meta) <= {"type", "properties"} and set(meta["properties"]) <= {
        "name",
        "generateName",
    }
    for path, node in nodes(root):
        assert set(node) <= SCHEMA_KEYS, f"{path}: unsupported keys {set(node) - SCHEMA_KEYS}"
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        assert node.get("type") in TYPES or preserve, f"{path}: needs a type"
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties") is not False, (
            f"{path}: additionalProperties: false is forbidden"
        )
        if node.get("type") == "array":
            assert isinstance(node.get("items"), Mapping), f"{path}: items must be one schema"
        for value in node.get("enum") or ():
            assert isinstance(value, str) and node["type"] == "string", path
        for name in node.get("required") or ():
            assert name in node["properties"], f"{path}: required {name} is not a property"
        if node.get("x-kubernetes-list-type") == "map":
            item = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in item.get("required", []), (
                    f"{path}: list-map key {key} must be required"
                )
                assert item["properties"][key]["type"] in ("string", "integer", "boolean"), path
        for rule in node.get("x-kubernetes-validations") or ():
            assert set(rule) <= {"rule", "message", "messageExpression", "fieldPath", "reason"}, (
                path
            )
            assert ("message" in rule) != ("messageExpression" in rule), path
            assert rule.get("reason", "FieldValueInvalid") in {
                "FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate",
            }  # fmt: skip
            field_path = rule.get("fieldPath")
            if field_path is not None:
                assert re.fullmatch(r"\.[A-Za-z_][A-Za-z0-9_]*", field_path), field_path
                assert field_path[1:] in node["properties"], (
                    f"{path}: fieldPath {field_path} is not a property"
                )


def test_every_size_is_bounded() -> None:
    """The CEL cost estimator needs bounds on every string, list and map a rule can
    reach; status is bounded too, to keep status writes small."""
    root = UPIR_SCHEMA
    for section in ("spec", "status"):
        for path, node in nodes(root["properties"][section], section):
            kind = node.get("type")
            if node.get("x-kubernetes-preserve-unknown-fields"):
                continue
            if kind == "string":
                assert "maxLength" in node or "enum" in node or node.get("format") == "date-time", (
                    path
                )
            elif kind == "array":
                assert "maxItems" in node, path
            elif kind == "object" and "additionalProperties" in node:
                assert "maxProperties" in node, path


def test_patterns_are_portable_and_explained() -> None:
    for path, node in nodes(UPIR_SCHEMA):
        pattern = node.get("pattern")
        if pattern is None:
            continue
        assert pattern.startswith("^") and pattern.endswith("$"), path
        # RE2 (the API server) has no lookaround, backreferences or \Z
        assert not re.search(r"\(\?[=!<]|\\[1-9]|\\Z|\\A", pattern), path
        re.compile(pattern)
        assert pattern in PATTERN_HINTS, path


def test_every_cel_rule_has_a_twin_and_compiles() -> None:
    import celpy

    env = celpy.Environment()
    rules = [
        r for _, node in nodes(UPIR_SCHEMA) for r in node.get("x-kubernetes-validations") or ()
    ]
    assert len(rules) >= len(TWINS)
    for rule in rules:
        twin = TWINS.get(rule["rule"])
        assert twin is not None, f"no Python twin for {rule['rule']!r}"
        assert twin.validation() == rule
        env.compile(rule["rule"])
        if "messageExpression" in rule:
            env.compile(rule["messageExpression"])
    used = {r["rule"] for r in rules}
    assert set(TWINS) == used, f"twins of rules the schema does not use: {set(TWINS) - used}"


def test_tuning_defaults_live_in_the_crd() -> None:
    """The API server fills spec.tuning with the same defaults the library uses
    (issue 23): kubectl get shows MODE Off for a UPIR that names no mode."""
    from upir.core.specification import TuningSpec

    tuning = UPIR_SCHEMA["properties"]["spec"]["properties"]["tuning"]
    assert tuning["default"] == {}
    props = tuning["properties"]
    spec = TuningSpec()
    assert props["mode"]["default"] == spec.mode == "Off"
    assert props["intervalSeconds"]["default"] == spec.interval_seconds
    assert props["maxStepFraction"]["default"] == float(spec.max_step_fraction)
    status_verdict = UPIR_SCHEMA["properties"]["status"]["properties"]["verdict"]
    assert "PROVED" in status_verdict["enum"] and "Proved" not in status_verdict["enum"]
