from fractions import Fraction

import pytest

from upir.core.architecture import Architecture, Component, Connection
from upir.core.numbers import to_fraction, to_json_number


def _arch(edges: list[tuple[str, str]], names: str = "abcd") -> Architecture:
    comps = tuple(Component(n, "service") for n in names)
    return Architecture(comps, tuple(Connection(s, t) for s, t in edges))


def test_order_entry_points_and_neighbours() -> None:
    a = _arch([("a", "b"), ("b", "c"), ("a", "d"), ("d", "c")])
    order = a.topological_order()
    assert order.index("a") < order.index("b") < order.index("c")
    assert order.index("d") < order.index("c")
    assert a.entry_points() == ("a",)
    assert a.successors("a") == ("b", "d")
    assert a.predecessors("c") == ("b", "d")
    assert a.find_cycle() is None


def test_cycle_is_found_and_named() -> None:
    a = _arch([("a", "b"), ("b", "c"), ("c", "a")])
    cycle = a.find_cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    with pytest.raises(ValueError):
        a.topological_order()


def test_defaults_fill_missing_params() -> None:
    c = Component("g", "service", {"replicas": 3})
    assert c.value("replicas") == 3
    assert c.value("retries") == 0
    assert c.effective_params()["timeout_ms"] == 1000


def test_exact_numbers() -> None:
    assert to_fraction(0.1) == Fraction(1, 10)
    assert to_fraction(3) == 3
    assert to_json_number(Fraction(4, 2)) == 2 and isinstance(to_json_number(Fraction(4, 2)), int)
    assert to_json_number(Fraction(1, 4)) == 0.25
    for bad in (float("nan"), float("inf"), True):
        with pytest.raises(ValueError):
            to_fraction(bad)  # type: ignore[arg-type]
