"""Shared fixtures: small UPIR documents built inline (`make_upir`), and the
scripts under benchmarks/ loaded as modules (`benchmark_script`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from upir.core import UPIR

UpirFactory = Callable[..., UPIR]
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


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


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as the module ``<name>_benchmark``. The benchmarks
    are scripts, not a package; the module is registered in ``sys.modules`` so the
    worker processes some of them fork can find what they pickle."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def benchmark_script() -> Callable[[str], ModuleType]:
    """:func:`load_benchmark`, for the test modules (conftest is not importable)."""
    return load_benchmark
