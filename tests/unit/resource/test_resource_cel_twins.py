"""Each CEL rule's Python twin decides and words exactly what cel-python does.

For every schema node that carries ``x-kubernetes-validations``, values of that
node's shape are generated from the schema itself; the twin and cel-python (the
rule text of the CRD) must give the same verdict and the same message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upir.resource import UPIR_SCHEMA
from upir.resource.cel import evaluate_rule
from upir.resource.rules import TWINS, go_double

NAMES = ["a", "b", "env", "system"]  # few names, so duplicates and mismatches are common


def rule_nodes(
    schema: Mapping[str, Any], path: str = ""
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if schema.get("x-kubernetes-validations"):
        yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from rule_nodes(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), Mapping):
        yield from rule_nodes(schema["items"], f"{path}[]")


def values(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values with the node's types and required fields (bounds and patterns are
    not respected on purpose: the rules must agree on any well-typed value)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return st.just({})
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties")
        if props is None:
            return st.dictionaries(
                st.sampled_from(NAMES), values(schema["additionalProperties"]), max_size=3
            )
        required = set(schema.get("required") or ())
        return st.fixed_dictionaries(
            {k: values(v) for k, v in props.items() if k in required},
            optional={
                k: st.one_of(st.none(), values(v)) for k, v in props.items() if k not in required
            },
        )
    if kind == "array":
        return st.lists(values(schema["items"]), max_size=4)
    if kind == "string":
        return st.sampled_from(list(schema["enum"]) if "enum" in schema else NAMES)
    if kind == "number":
        return st.one_of(
            st.integers(-3, 6),
            st.sampled_from([0.1, 0.2, 0.3, 0.25, 1e6, 1e-5, 2.5]),
            st.floats(-10, 10, allow_nan=False),
        )
    if kind == "integer":
        return st.integers(0, 10)
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for {schema}")


NODES = list(rule_nodes(UPIR_SCHEMA))


def test_rules_sit_where_expected() -> None:
    assert [p for p, _ in NODES] == [
        "spec.architecture",
        "spec.architecture.components[]",
        "spec.architecture.connections[]",
        "spec.specification",
        "spec.specification.invariants[]",
        "spec.specification.properties[]",
        "spec.specification.constraints.latency_ms",
        "spec.specification.constraints.availability",
        "spec.specification.constraints.cost",
        "spec.specification.constraints.throughput_rps",
        "spec.parameters[]",
    ]


@pytest.mark.parametrize(("path", "node"), NODES, ids=[p for p, _ in NODES])
def test_twin_and_cel_agree(path: str, node: Mapping[str, Any]) -> None:
    seen = {"pass": 0, "fail": 0}

    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(values(node))
    def check(value: Any) -> None:
        for entry in node["x-kubernetes-validations"]:
            twin = TWINS[entry["rule"]]
            passed, message = evaluate_rule(entry, value, node)
            assert twin.check(value) == passed, (entry["rule"], value)
            if not passed:
                assert twin.message_for(value) == message, (entry["rule"], value)
            seen["pass" if passed else "fail"] += 1

    check()
    # the generated values exercised both outcomes of the node's rules
    assert seen["pass"] and seen["fail"], (path, seen)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (500, "500"), (500.0, "500"), (0.25, "0.25"), (1e6, "1e+06"), (123456.0, "123456"),
        (1234567.0, "1.234567e+06"), (1e-5, "1e-05"), (0.0001, "0.0001"), (-2.5, "-2.5"),
        (0.30000000000000004, "0.30000000000000004"), (1e21, "1e+21"), (0, "0"),
        (float("inf"), "+Inf"), (float("nan"), "NaN"),
    ],
)  # fmt: skip
def test_doubles_print_like_cel_go(value: float, text: str) -> None:
    # cel-go's string(double) is strconv.FormatFloat(d, 'g', -1, 64)
    assert go_double(value) == text


def test_float_arithmetic_is_the_clusters() -> None:
    # Kubernetes CEL computes in doubles: 0.3 - 0.1 < 0.2, so this step is too large there
    param = {"name": "a.b", "min": 0.1, "max": 0.3, "step": 0.2}
    node = UPIR_SCHEMA["properties"]["spec"]["properties"]["parameters"]["items"]
    entry = node["x-kubernetes-validations"][1]
    assert evaluate_rule(entry, param, node) == (
        False,
        "step (0.2) must be <= max - min (0.19999999999999998)",
    )
    assert TWINS[entry["rule"]].check(param) is False
