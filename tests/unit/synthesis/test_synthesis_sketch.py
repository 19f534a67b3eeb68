"""Sketches: holes from spec.parameters, their domains, and refusals."""

from __future__ import annotations

import dataclasses
from fractions import Fraction as F
from typing import Any

import pytest

from upir.core import UPIR, ParameterDomain
from upir.errors import InvalidSpecError
from upir.synthesis import MAX_RETRIES_VALUES, Hole, Sketch


def _doc(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "s"},
        "spec": {
            "architecture": {
                "components": [
                    {"name": "gw", "type": "service", "params": {"timeout_ms": 300, "retries": 2}},
                    {"name": "q", "type": "queue", "params": {"capacity": 5000}},
                ],
                "connections": [{"from": "gw", "to": "q"}],
            },
            "specification": {
                "invariants": [{"name": "p", "operator": "ALWAYS", "predicate": "true"}]
            },
            "parameters": parameters,
        },
    }


def _upir(parameters: list[dict[str, Any]]) -> UPIR:
    return UPIR.from_resource(_doc(parameters))


def test_holes_take_domains_and_current_values() -> None:
    sketch = Sketch.from_upir(
        _upir(
            [
                {"name": "gw.timeout_ms", "min": 50, "max": 2000, "step": 10},
                {"name": "gw.retries", "min": 0, "max": 5},
                {"name": "q.capacity", "min": 100, "max": 100000, "step": 100},
            ]
        )
    )
    assert sketch.names == ("gw.timeout_ms", "gw.retries", "q.capacity")
    timeout, retries, cap = sketch.holes
    assert (timeout.min, timeout.max, timeout.step, timeout.integer) == (
        F(50),
        F(2000),
        F(10),
        False,
    )
    assert timeout.size == 196 and timeout.current == 300
    assert retries.step == 1 and retries.integer and retries.size == 6 and retries.current == 2
    assert cap.size == 1000 and cap.current == 5000
    assert sketch.grid_size() == 196 * 6 * 1000
    # every parameter without a hole keeps its value (defaults filled)
    assert sketch.fixed["gw.replicas"] == 1 and sketch.fixed["gw.concurrency"] == 1
    assert "gw.timeout_ms" not in sketch.fixed


def test_grid_values_top_and_nearest() -> None:
    h = Hole("gw.timeout_ms", F(50), F(125), F(20), False, F(300))
    assert list(h.values()) == [F(50), F(70), F(90), F(110)]
    assert h.top == 110 and h.span == 60
    assert h.contains(F(90)) and not h.contains(F(100)) and not h.contains(F(130))
    assert h.nearest(F(300)) == 110
    assert h.nearest(F(79)) == 70 and h.nearest(F(81)) == 90 and h.nearest(F(80)) == 70
    assert h.nearest(F(0)) == 50


def test_continuous_hole() -> None:
    sketch = Sketch.from_upir(_upir([{"name": "gw.timeout_ms", "min": 1.5, "max": 7.25}]))
    (h,) = sketch.holes
    assert h.step is None and h.size is None and sketch.grid_size() is None
    assert h.contains(F(4, 3)) is False and h.contains(F(5, 3))
    assert h.nearest(F(100)) == F(29, 4)
    with pytest.raises(ValueError):
        list(h.values())
    assert h.describe() == "gw.timeout_ms in [1.5, 7.25]"


def test_single_value_domain_has_unit_span() -> None:
    (h,) = Sketch.from_upir(_upir([{"name": "gw.retries", "min": 3, "max": 3}])).holes
    assert h.size == 1 and h.span == 1 and list(h.values()) == [F(3)]


def test_describe_mentions_step_only_when_it_matters() -> None:
    sketch = Sketch.from_upir(
        _upir(
            [
                {"name": "gw.timeout_ms", "min": 50, "max": 2000, "step": 10},
                {"name": "gw.retries", "min": 0, "max": 5},
            ]
        )
    )
    assert [h.describe() for h in sketch.holes] == [
        "gw.timeout_ms in [50, 2000] (step 10)",
        "gw.retries in [0, 5]",
    ]


def test_contains_needs_every_hole_in_domain() -> None:
    sketch = Sketch.from_upir(_upir([{"name": "gw.retries", "min": 0, "max": 5}]))
    assert sketch.contains({"gw.retries": F(4)})
    assert not sketch.contains({"gw.retries": F(6)})
    assert not sketch.contains({"gw.retries": F(5, 2)})
    assert not sketch.contains({})


def test_too_many_retry_values_is_invalid() -> None:
    upir = _upir([{"name": "gw.retries", "min": 0, "max": MAX_RETRIES_VALUES}])
    with pytest.raises(InvalidSpecError) as info:
        Sketch.from_upir(upir)
    (issue,) = info.value.issues
    assert issue.field == "spec.parameters[0].max"
    assert "at most 64" in issue.message


def _with_domain(upir: UPIR, domain: ParameterDomain) -> UPIR:
    # a UPIR built in code (not from a resource) may carry any domain
    return dataclasses.replace(upir, parameters=(domain,))


@pytest.mark.parametrize(
    ("domain", "field", "words"),
    [
        (
            ParameterDomain("gw.timeout_ms", F(10), F(5), None, False),
            "spec.parameters[0].min",
            "above max",
        ),
        (
            ParameterDomain("gw.timeout_ms", F(1), F(5), F(0), False),
            "spec.parameters[0].step",
            "> 0",
        ),
        (
            ParameterDomain("gw.timeout_ms", F(0), F(5), None, False),
            "spec.parameters[0].min",
            ">= 1",
        ),
        (
            ParameterDomain("nope.timeout_ms", F(1), F(5), None, False),
            "spec.parameters[0].name",
            "no component",
        ),
        (
            ParameterDomain("gw.colour", F(1), F(5), None, False),
            "spec.parameters[0].name",
            "no parameter",
        ),
        (
            ParameterDomain("gw.retries", F(1, 3), F(2, 3), None, True),
            "spec.parameters[0]",
            "no whole number",
        ),
        (
            ParameterDomain("gw.retries", F(0), F(4), F(1, 2), True),
            "spec.parameters[0].step",
            "whole",
        ),
    ],
)
def test_bad_domains_are_invalid(domain: ParameterDomain, field: str, words: str) -> None:
    upir = _with_domain(_upir([]), domain)
    with pytest.raises(InvalidSpecError) as info:
        Sketch.from_upir(upir)
    (issue,) = info.value.issues
    assert issue.field == field
    assert words in issue.message


def test_integer_domain_with_fractional_min_starts_at_next_whole() -> None:
    upir = _with_domain(_upir([]), ParameterDomain("gw.retries", F(1, 2), F(3), None, True))
    (h,) = Sketch.from_upir(upir).holes
    assert list(h.values()) == [F(1), F(2), F(3)]
