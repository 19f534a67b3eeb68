"""Soundness of the compositional layer: for random systems, random environment
boxes and random runs inside them, every value the exact model computes at every
step lies in the range the contracts and their composition promise."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import contracts, reference
from upir.verification.intervals import Interval
from upir.verification.structure import Structure

rate = st.fractions(min_value=0, max_value=2000, max_denominator=4)
ms = st.fractions(min_value=F(1, 2), max_value=400, max_denominator=4)
prob = st.fractions(min_value=0, max_value=1, max_denominator=100)


@st.composite
def service_params(draw: st.DrawFn) -> dict[str, int]:
    return {
        "replicas": draw(st.integers(1, 4)),
        "concurrency": draw(st.integers(1, 8)),
        "timeout_ms": draw(st.integers(1, 300)),
        "retries": draw(st.integers(0, 3)),
    }


@st.composite
def box_and_point(draw: st.DrawFn, values: st.SearchStrategy[F]) -> tuple[Interval, F]:
    a, b = sorted([draw(values), draw(values)])
    return Interval(a, b), draw(st.sampled_from([a, b, (a + b) / 2]))


@settings(max_examples=80, deadline=None)
@given(service_params(), box_and_point(ms), box_and_point(prob))
def test_service_contract_contains_every_point(
    params: dict[str, int], s: tuple[Interval, F], f: tuple[Interval, F]
) -> None:
    (sbox, sv), (fbox, fv) = s, f
    exact = {k: F(v) for k, v in params.items()}
    c = contracts.service_contract(exact, sbox, fbox)
    doc = _doc([{"name": "x", "type": "service", "params": params}], [])
    upir = UPIR.from_resource(doc)
    st_ = Structure(upir.architecture)
    env = {"env.arrival_rps": F(1), "env.x_service_ms": sv, "env.x_failure_rate": fv}
    v = reference.step(st_, upir.param_values(), env, {}, F(100)).values
    for name, rng in (
        ("x.attempt_ms", c.attempt_ms),
        ("x.call_ms", c.call_ms),
        ("x.@success", c.success),
        ("x.capacity_rps", c.calls_rps),
    ):
        assert rng.lo <= v[name] <= rng.hi, (name, rng, v[name])


def _doc(components: list[dict[str, Any]], links: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "r"},
        "spec": {
            "architecture": {
                "components": components,
                "connections": [{"from": a, "to": b} for a, b in links],
            }
        },
    }


@st.composite
def systems(draw: st.DrawFn) -> tuple[UPIR, dict[str, Interval], list[dict[str, F]]]:
    """A random DAG of 2-5 components, random boxes, and a random run of 10 steps
    whose environment stays inside the boxes."""
    n = draw(st.integers(2, 5))
    comps: list[dict[str, Any]] = []
    for i in range(n):
        kind = draw(st.sampled_from(["service", "service", "queue", "batcher"]))
        if kind == "service":
            params: dict[str, Any] = draw(service_params())
        elif kind == "queue":
            params = {"capacity": draw(st.integers(1, 200))}
        else:
            params = {"batch_size": draw(st.integers(1, 20)), "flush_ms": draw(st.integers(0, 200))}
        comps.append({"name": f"c{i}", "type": kind, "params": params})
    links = [(f"c{i}", f"c{j}") for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    upir = UPIR.from_resource(_doc(comps, links))
    st_ = Structure(upir.architecture)
    boxes: dict[str, Interval] = {}
    gens = {
        "arrival": rate,
        "service_ms": ms,
        "failure_rate": prob,
        "drain_rps": st.fractions(1, 2000, max_denominator=4),
    }
    for name in st_.env_domains:
        kind = next(
            k for k in gens if name.endswith(k) or (k == "arrival" and name == "env.arrival_rps")
        )
        a, b = sorted([draw(gens[kind]), draw(gens[kind])])
        boxes[name] = Interval(a, b)
    run = []
    for _ in range(10):
        run.append(
            {k: draw(st.sampled_from([b.lo, b.hi, (b.lo + b.hi) / 2])) for k, b in boxes.items()}
        )
    return upir, boxes, run  # type: ignore[return-value]


@settings(max_examples=60, deadline=None)
@given(systems())
def test_composition_contains_every_reachable_value(
    system: tuple[UPIR, dict[str, Interval], list[dict[str, F]]],
) -> None:
    upir, boxes, run = system
    st_ = Structure(upir.architecture)
    params = upir.param_values()

    def contract_of(name: str) -> contracts.ServiceContract:
        own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(name + ".")}
        s, f = contracts.service_env(name)
        return contracts.service_contract(own, boxes[s], boxes[f])

    ranges, _ = contracts.compose(st_, params, boxes, contract_of, F(100))
    trace = reference.simulate(st_, params, run, F(100))
    checked = 0
    for t, values in enumerate(trace):
        # a quantity with no finite bound at a reachable step is one the
        # composition knows may be unbounded (so it never proves a bound on it)
        assert set(reference.unbounded_names(values)) <= ranges.unbounded, t
        for name, value in values.items():
            if "@" in name or name not in ranges.derived:
                continue
            rng = ranges.derived[name]
            assert rng.lo <= value <= rng.hi, (t, name, rng, value)
            checked += 1
    assert checked > 0


def test_simple_bounds_are_read_without_a_solver() -> None:
    doc = _doc([{"name": "s", "type": "service"}], [])
    doc["spec"]["specification"] = {
        "assumptions": [
            "5 <= env.s_service_ms <= 40",
            "env.arrival_rps < 800",
            "0.01 >= env.s_failure_rate",
        ]
    }
    upir = UPIR.from_resource(doc)
    st_ = Structure(upir.architecture)
    boxes = contracts.env_boxes(
        st_, upir.specification.assumptions, set(st_.env_domains), SolverSettings()
    )
    assert boxes is not None
    assert boxes["env.s_service_ms"] == Interval(F(5), F(40))
    assert boxes["env.arrival_rps"] == Interval(F(0), F(800))
    assert boxes["env.s_failure_rate"] == Interval(F(0), F(1, 100))


@settings(max_examples=40, deadline=None)
@given(systems(), st.data())
def test_differential_composition_equals_a_fresh_one(
    system: tuple[UPIR, dict[str, Interval], list[dict[str, F]]], data: st.DataObject
) -> None:
    upir, boxes, _ = system
    st_ = Structure(upir.architecture)

    def ranges_for(
        u: UPIR, previous: contracts.Composition | None = None, changed: set[str] | None = None
    ) -> Any:
        params = u.param_values()

        def contract_of(name: str) -> contracts.ServiceContract:
            own = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(name + ".")}
            s, f = contracts.service_env(name)
            return contracts.service_contract(own, boxes[s], boxes[f])

        return contracts.compose(
            st_, params, boxes, contract_of, F(100), previous=previous, changed=changed
        )

    _, first = ranges_for(upir)
    comp = data.draw(st.sampled_from(list(upir.architecture.components)))
    if comp.type == "service":
        change: dict[str, int] = {
            f"{comp.name}.retries": data.draw(st.integers(0, 3)),
            f"{comp.name}.replicas": 7,
        }
    elif comp.type == "queue":
        change = {f"{comp.name}.capacity": data.draw(st.integers(1, 300))}
    else:
        change = {f"{comp.name}.batch_size": data.draw(st.integers(1, 30))}
    new = upir.with_params(change)
    fresh, _ = ranges_for(new)
    diff, state = ranges_for(new, first, {comp.name})
    assert diff.derived == fresh.derived
    assert diff.unbounded == fresh.unbounded
    assert state.recomputed <= len(st_.order)
