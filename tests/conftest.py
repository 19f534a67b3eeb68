"""Shared fixtures: small UPIR documents built inline (`make_upir`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from upir.core import UPIR

UpirFactory = Callable[..., UPIR]


def build_doc(
    components: Iterable[dict[str, Any]],
    connections: Iterable[tuple[str, str]] = (),
    assumptions: Iterable[str] = (),
    invariants: Iterable[dict[str, Any]] = (),
    properties: Iterable[dict[str, Any]] = (),
    constraints: dict[str, Any] | None = None,
    parameters: Iterable[dict[str, Any]] = (),
    name: str = "t",
    tuning: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "architecture": {
            "components": list(components),
            "connections": [{"from": a, "to": b} for a, b in connections],
        },
        "specification": {
            "assumptions": list(assumptions),
            "invariants": list(invariants),
            "properties": list(properties),
        },
    }
    if constraints:
        spec["specification"]["constraints"] = constraints
    params = list(parameters)
    if params:
        spec["parameters"] = params
    if tuning is not None:
        spec["tuning"] = tuning
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def make_upir() -> UpirFactory:
    def make(*args: Any, **kwargs: Any) -> UPIR:
        return UPIR.from_resource(build_doc(*args, **kwargs))

    return make
