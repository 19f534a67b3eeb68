"""The counterexample constraints agree with the exact reference model.

For every point of a small grid, a constraint (a property required on a fixed
run, with the holes symbolic) must refute the point exactly when the reference
evaluation (``upir.verification.reference``, no solver) says the property fails
on that run with those values. Also: the closed form of queue lengths equals the
step-by-step unrolling, and the objectives' epigraph form gives their exact values.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from fractions import Fraction as F
from typing import Any

import pytest

from upir.core import UPIR, TemporalProperty
from upir.settings import SolverSettings
from upir.synthesis import Sketch, steady
from upir.synthesis.encoding import Encoder, FixedEnvUnrolling, Instance, objective_values
from upir.synthesis.smt import Proposer, ProposeStatus
from upir.verification import Counterexample, Structure, reference

SETTINGS = SolverSettings(timeout_ms=10_000)
STEP = F(SETTINGS.step_ms)


def _upir() -> UPIR:
    doc: dict[str, Any] = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "enc"},
        "spec": {
            "architecture": {
                "components": [
                    {"name": "gw", "type": "service", "params": {"replicas": 2, "concurrency": 2}},
                    {"name": "q", "type": "queue"},
                    {
                        "name": "worker",
                        "type": "service",
                        "params": {"concurrency": 2, "timeout_ms": 50},
                    },
                ],
                "connections": [{"from": "gw", "to": "q"}, {"from": "q", "to": "worker"}],
            },
            "specification": {
                "assumptions": ["env.arrival_rps <= 400"],
                "invariants": [
                    {"name": "no_loss", "operator": "ALWAYS", "predicate": "q.dropped == 0"}
                ],
                "properties": [
                    {"name": "fast", "operator": "ALWAYS", "predicate": "gw.latency_ms <= 120"},
                    {
                        "name": "fills",
                        "operator": "WITHIN",
                        "predicate": "q.length >= 20",
                        "timeBoundMs": 300,
                    },
                    {
                        "name": "headroom",
                        "operator": "ALWAYS",
                        "predicate": "1000 / (worker.capacity_rps - 100) <= 20",
                    },
                    {
                        "name": "short_wait",
                        "operator": "ALWAYS",
                        "predicate": "q.wait_ms <= 400",
                    },
                ],
            },
            "parameters": [
                {"name": "gw.timeout_ms", "min": 20, "max": 80, "step": 20},
                {"name": "gw.retries", "min": 0, "max": 2},
                {"name": "q.capacity", "min": 50, "max": 150, "step": 50},
                {"name": "worker.replicas", "min": 1, "max": 3},
            ],
        },
    }
    return UPIR.from_resource(doc)


UPIR_ = _upir()
SKETCH = Sketch.from_upir(UPIR_)
PROPS = {p.name: p for p in UPIR_.specification.all_properties()}
ST = Structure(UPIR_.architecture)
GRID = [
    dict(zip(SKETCH.names, point, strict=True))
    for point in itertools.product(*(list(h.values()) for h in SKETCH.holes))
]


def _env(arrival: int, gw_ms: int, gw_fail: F, worker_ms: int) -> dict[str, F]:
    return {
        "env.arrival_rps": F(arrival),
        "env.gw_service_ms": F(gw_ms),
        "env.gw_failure_rate": gw_fail,
        "env.worker_service_ms": F(worker_ms),
        "env.worker_failure_rate": F(0),
    }


def _cex(
    envs: list[dict[str, F]], *, constant: bool, violated_at: int | None = None
) -> Counterexample:
    return Counterexample(
        env=tuple(envs),
        trace=(),
        violated_at=violated_at,
        params={},
        step_ms=SETTINGS.step_ms,
        horizon=(SETTINGS.bmc_steps if constant else len(envs) - 1),
        constant=constant,
    )


def _params(values: Mapping[str, F]) -> dict[str, F]:
    return {**SKETCH.fixed, **values}


def _full(env: Mapping[str, F]) -> dict[str, F]:
    return reference.filler_env(ST, env, set())


def _holds(prop: TemporalProperty, inst: Instance, values: Mapping[str, F]) -> bool:
    """The property on the instance's run, by the exact reference model."""
    st = ST
    params = _params(values)
    if inst.kind == "step":
        target = prop.trigger if prop.trigger is not None else prop.predicate
        for e in inst.env:
            step = reference.step(
                st, params, _full(e), {q: F(0) for q in st.of_type("queue")}, STEP
            )
            if reference.truth(target, step.values) is not True:
                return False
        return True
    if inst.kind == "run":
        trace = reference.simulate(st, params, [_full(e) for e in inst.env], STEP)
        return reference.property_holds(prop, trace, STEP)
    # steady: hold the environment until the queue lengths stop changing
    lengths = {q: F(0) for q in st.of_type("queue")}
    env = _full(inst.env[0])
    for _ in range(100_000):
        result = reference.step(st, params, env, lengths, STEP)
        if result.next_lengths == lengths:
            return reference.truth(prop.predicate, result.values) is True
        lengths = result.next_lengths
    raise AssertionError("no steady state")


def _agree(prop_name: str, cex: Counterexample, own: bool = True, closed: bool = True) -> list[str]:
    encoder = Encoder(SKETCH, SETTINGS)
    if not closed:
        encoder.closed_form = frozenset()
    proposer = Proposer(SETTINGS, encoder.terms, [])
    prop = PROPS[prop_name]
    instances = encoder.instances(prop, cex, own)
    assert instances, "nothing encoded"
    kinds = []
    for inst in instances:
        kinds.append(inst.kind)
        refuted = 0
        for values in GRID:
            excluded = proposer.excludes(inst.formula, values)
            assert excluded == (not _holds(prop, inst, values)), (inst.kind, values)
            refuted += excluded
        # the run must tell points apart, or the comparison proves little
        assert 0 < refuted < len(GRID), (inst.kind, refuted)
    return kinds


def test_stateless_property_on_constant_environment() -> None:
    # 30 req/s: some grid points keep the gateway's p99 (its 4 slots' wait
    # included) within 120 ms; at 300 req/s every point saturates it
    cex = _cex([_env(30, 45, F(1, 10), 10)], constant=True)
    assert _agree("fast", cex) == ["step"]
    saturating = _cex([_env(300, 45, F(1, 10), 10)], constant=True)
    encoder = Encoder(SKETCH, SETTINGS)
    proposer = Proposer(SETTINGS, encoder.terms, [])
    (inst,) = encoder.instances(PROPS["fast"], saturating, True)
    assert all(proposer.excludes(inst.formula, values) for values in GRID)


def test_stateless_property_on_each_step_of_a_run() -> None:
    steps = [_env(100, 30, F(0), 10), _env(100, 45, F(1, 2), 10), _env(100, 70, F(0), 10)]
    assert _agree("fast", _cex(steps, constant=False)) == ["step"]


def test_division_by_zero_counts_as_violation() -> None:
    # worker capacity 1000*R*2/10 = 200 R: R=... never 100, but R=1 at 20 ms gives 100
    cex = _cex([_env(0, 10, F(0), 20)], constant=True)
    assert _agree("headroom", cex) == ["step"]


def test_always_on_a_varying_run_matches_replay() -> None:
    steps = [
        _env(400, 10, F(0), 10),
        _env(400, 10, F(0), 40),
        _env(0, 10, F(0), 40),
        _env(400, 10, F(0), 40),
    ]
    assert _agree("no_loss", _cex(steps, constant=False)) == ["run"]


def test_within_uses_exactly_its_horizon() -> None:
    # worker drains 20 items per step per replica: only one replica lets the queue reach 20
    steps = [_env(400, 10, F(0), 10), _env(0, 10, F(0), 10)]
    assert _agree("fills", _cex(steps, constant=False)) == ["run"]


@pytest.mark.parametrize("closed", [True, False])
def test_constant_run_gives_steady_state_then_the_run(closed: bool) -> None:
    # 25 items arrive per step; the worker drains 10 per replica: one or two overflow
    cex = _cex([_env(250, 10, F(0), 20)], constant=True, violated_at=6)
    assert _agree("no_loss", cex, closed=closed) == ["steady", "run"]
    assert _agree("short_wait", cex, closed=closed) == ["steady", "run"]


def test_closed_form_lengths_equal_the_unrolled_ones() -> None:
    encoder = Encoder(SKETCH, SETTINGS)
    assert encoder.closed_form == frozenset({"q"})
    env = reference.filler_env(encoder.st, _env(400, 10, F(0), 40), set())
    closed = FixedEnvUnrolling(
        encoder.st,
        encoder.params,
        SETTINGS.step_ms,
        [env] * 12,
        encoder.choices,
        "c!",
        encoder.closed_form,
    )
    proposer = Proposer(SETTINGS, encoder.terms, [])
    for values in GRID[::7]:
        trace = reference.simulate(encoder.st, _params(values), [env] * 12, STEP)
        for t in (0, 1, 5, 11):
            same = closed.length("q", t) == trace[t]["q.length"]
            assert not proposer.excludes(same, values), (values, t)


def test_objectives_are_exact_at_the_optimum() -> None:
    encoder = Encoder(SKETCH, SETTINGS)
    definitions, objectives = encoder.objectives()
    proposer = Proposer(SETTINGS, encoder.terms, objectives, definitions)
    for hole in SKETCH.holes:
        proposer.add(f"domain:{hole.name}", encoder.domain(hole))
    proposal = proposer.propose()
    assert proposal.status is ProposeStatus.FOUND and proposal.optimal
    exact = objective_values(SKETCH, encoder.st, proposal.values)
    assert dict(proposal.objective) == exact
    best = min(
        (objective_values(SKETCH, encoder.st, v) for v in GRID),
        key=lambda o: (o["cost"], o["latency_bound_ms"], o["change"]),
    )
    assert exact == best


def test_steady_refutation_finds_the_most_overloaded_allowed_environment() -> None:
    doc = UPIR_.to_resource()
    doc["spec"]["specification"]["assumptions"] = [
        "100 <= env.arrival_rps <= 400",
        "env.gw_service_ms == 5",
        "5 <= env.worker_service_ms <= 10",
        "env.gw_failure_rate == 0",
        "env.worker_failure_rate == 0",
    ]
    upir = UPIR.from_resource(doc)
    sketch = Sketch.from_upir(upir)
    encoder = Encoder(sketch, SETTINGS)
    props = {p.name: p for p in upir.specification.all_properties()}
    prop = props["no_loss"]
    assert steady.applies(encoder, prop) and not steady.applies(encoder, props["fast"])
    point = {h.name: h.min for h in sketch.holes}
    # a worker replica serves 2 calls at a time, 10 ms each at worst: 200 items/s
    weak = point | {"worker.replicas": F(1)}
    env = steady.refute(encoder, prop, weak)
    assert env is not None and reference.env_allowed(ST, upir, env)
    # the most overloaded environment the assumptions allow
    assert env["env.arrival_rps"] == 400 and env["env.worker_service_ms"] == 10
    params = {**sketch.fixed, **weak}
    full = reference.filler_env(ST, env, set())
    trace = reference.simulate(ST, params, [full] * 100, STEP)
    assert any(step["q.dropped"] > 0 for step in trace)
    # two replicas drain 400 items/s: nothing the assumptions allow overloads them
    assert steady.refute(encoder, prop, point | {"worker.replicas": F(2)}) is None
