"""The guardrail's fast paths: the batched-utilization range, refutation at the
corners of the environment boxes (no solver), and queues proved empty by the
composition used as lemmas by the monolithic check.

Each must agree with the full monolithic check (and never let an unsafe vector
through): random parameter vectors of a 10-parameter pipeline are verified both
ways, every counterexample is replayed exactly, and every vector the fast path
proves is audited by the independent brute-force checker."""

from __future__ import annotations

import random
from fractions import Fraction as F
from typing import Any

import pytest

from upir.core import UPIR
from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.expr import parse
from upir.settings import SolverSettings
from upir.verification import Verdict, Verifier, reference
from upir.verification.engine import Checker
from upir.verification.falsify import corner_environments, falsify
from upir.verification.intervals import INF, Interval
from upir.verification.reference_audit import IndependentChecker
from upir.verification.structure import Structure
from upir.verification.z3util import Deadline

COMPONENTS: list[dict[str, Any]] = [
    {
        "name": "gateway",
        "type": "service",
        "params": {"replicas": 3, "concurrency": 64, "timeout_ms": 600, "retries": 1},
    },
    {"name": "orders", "type": "queue", "params": {"capacity": 2000}},
    {"name": "batcher", "type": "batcher", "params": {"batch_size": 16, "flush_ms": 40}},
    {"name": "worker", "type": "service", "params": {"replicas": 4, "concurrency": 4}},
]
LINKS = [("gateway", "orders"), ("orders", "batcher"), ("batcher", "worker")]
ASSUMPTIONS = [
    "env.arrival_rps <= 350",
    "1 <= env.gateway_service_ms <= 5",
    "20 <= env.worker_service_ms <= 100",
    "env.gateway_failure_rate <= 0.001",
    "env.worker_failure_rate <= 0.002",
]
PROPERTIES = [
    {
        "name": "retry_budget",
        "operator": "ALWAYS",
        "predicate": "gateway.timeout_ms * (gateway.retries + 1) <= 2000",
    },
    {
        "name": "timeout_covers_work",
        "operator": "ALWAYS",
        "predicate": "gateway.timeout_ms >= batcher.flush_ms + worker.latency_ms",
    },
    {
        "name": "slots",
        "operator": "ALWAYS",
        "predicate": "gateway.replicas * gateway.concurrency * 1000"
        " >= env.arrival_rps * (batcher.flush_ms + worker.latency_ms)",
    },
    {"name": "workers_keep_up", "operator": "ALWAYS", "predicate": "worker.utilization <= 0.9"},
    {"name": "light", "operator": "EVENTUALLY", "predicate": "worker.utilization <= 0.2"},
]
PARAMETERS = [
    {"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10},
    {"name": "gateway.retries", "min": 0, "max": 3},
    {"name": "gateway.concurrency", "min": 8, "max": 128, "step": 8},
    {"name": "gateway.replicas", "min": 1, "max": 4},
    {"name": "orders.capacity", "min": 50, "max": 500, "step": 50},  # quick fills
    {"name": "batcher.batch_size", "min": 1, "max": 32},
    {"name": "batcher.flush_ms", "min": 0, "max": 50},
    {"name": "worker.concurrency", "min": 1, "max": 8},
    {"name": "worker.replicas", "min": 1, "max": 6},
    {"name": "worker.retries", "min": 0, "max": 2},
]


@pytest.fixture
def pipeline(make_upir: Any) -> UPIR:
    upir: UPIR = make_upir(
        COMPONENTS,
        LINKS,
        assumptions=ASSUMPTIONS,
        invariants=[{"name": "no_loss", "operator": "ALWAYS", "predicate": "orders.dropped == 0"}],
        properties=PROPERTIES,
        # model 2: the latency includes the wait for a slot (docs/model.md 3.1)
        constraints={"latency_ms": {"max": 300}, "availability": {"min": 0.995}},
        parameters=PARAMETERS,
    )
    return upir


def _random_vectors(upir: UPIR, n: int, seed: int) -> list[dict[str, F]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        values: dict[str, F] = {}
        for d in upir.parameters:
            step = d.step if d.step is not None else F(1)
            values[d.name] = d.min + step * rng.randint(0, int((d.max - d.min) / step))
        out.append(values)
    return out


def test_fast_verdicts_agree_with_the_monolithic_check(pipeline: UPIR) -> None:
    """Never PROVED where the full monolithic check (k-induction, steady state,
    bounded model checking) finds a violation; every violation replays exactly
    (so the full check cannot prove it either); every vector proved is safe for
    the independent brute-force checker."""
    settings = SolverSettings()
    fast, slow = Verifier(settings), Verifier(settings, compositional=False)
    audit = IndependentChecker(pipeline)
    st = Structure(pipeline.architecture)
    seen: set[tuple[str, str]] = set()
    for values in _random_vectors(pipeline, 16, seed=5):
        candidate = pipeline.with_params(values)
        quick = fast.verify(candidate)
        for a in quick.results:
            if a.status is Verdict.PROVED:
                b = slow.verify_property(candidate, a.property)
                assert b.status is not Verdict.VIOLATED, (a.property.name, values, b.message)
            if a.status is Verdict.VIOLATED:
                assert a.counterexample is not None
                assert reference.replay(candidate, a.property, a.counterexample, st)
            seen.add((a.status.value, a.method))
        if quick.status is Verdict.PROVED:
            assert audit.is_safe(values), values
    # the stream exercised both fast paths (proofs and refutations without Z3)
    assert ("PROVED", "compositional") in seen and ("VIOLATED", "compositional") in seen


def test_batched_utilization_is_proved_by_composition(pipeline: UPIR) -> None:
    prop = next(p for p in pipeline.specification.properties if p.name == "workers_keep_up")
    result = Verifier(SolverSettings()).verify_property(pipeline, prop)
    assert result.status is Verdict.PROVED and result.method == "compositional"
    full = Verifier(SolverSettings(), compositional=False).verify_property(pipeline, prop)
    assert full.status is Verdict.PROVED


def test_availability_behind_a_batcher_is_proved_by_composition(pipeline: UPIR) -> None:
    """Small inflows make one-item batches, so the worker's capacity range reaches
    down to its calls per second, below the largest inflow; taken apart, the two
    ranges would show a shed no step has. Utilization (arrival over capacity,
    linked through the batch size) stays below 1, so nothing is shed: the
    availability is proved without the solver, and the solver agrees."""
    prop = next(p for p in pipeline.specification.all_properties() if "availability" in p.name)
    result = Verifier(SolverSettings()).verify_property(pipeline, prop)
    assert result.status is Verdict.PROVED and result.method == "compositional"
    full = Verifier(SolverSettings(), compositional=False).verify_property(pipeline, prop)
    assert full.status is Verdict.PROVED
    # where the worker may saturate, the shed stays a possibility (never hidden)
    starved = pipeline.with_params({"worker.replicas": 1, "worker.concurrency": 1})
    assert Verifier(SolverSettings()).verify_property(starved, prop).status is Verdict.VIOLATED


def test_overloaded_workers_are_refuted_without_the_solver(pipeline: UPIR) -> None:
    candidate = pipeline.with_params({"worker.replicas": 1, "worker.concurrency": 1})
    prop = next(p for p in candidate.specification.properties if p.name == "workers_keep_up")
    result = Verifier(SolverSettings()).verify_property(candidate, prop)
    assert result.status is Verdict.VIOLATED and result.method == "compositional"
    cex = result.counterexample
    assert cex is not None and cex.constant and cex.violated_at == 0
    assert cex.env[0]["env.arrival_rps"] == 350  # the top corner of the load
    assert reference.replay(candidate, prop, cex)


def test_a_queue_that_fills_is_refuted_at_the_step_it_drops(pipeline: UPIR) -> None:
    # 350 rps in, one slow worker: the 50-item queue overflows after a few steps
    candidate = pipeline.with_params(
        {"orders.capacity": 50, "worker.replicas": 1, "worker.concurrency": 1}
    )
    prop = candidate.specification.invariants[0]
    result = Verifier(SolverSettings()).verify_property(candidate, prop)
    assert result.status is Verdict.VIOLATED and result.method == "compositional"
    cex = result.counterexample
    assert cex is not None and cex.violated_at is not None and cex.violated_at > 0
    assert reference.replay(candidate, prop, cex)
    full = Verifier(SolverSettings(), compositional=False).verify_property(candidate, prop)
    assert full.status is Verdict.VIOLATED


def test_stateful_cones_are_only_refuted_for_always(pipeline: UPIR) -> None:
    candidate = pipeline.with_params({"worker.replicas": 1, "worker.concurrency": 1})
    st = Structure(candidate.architecture)
    prop = TemporalProperty(
        "eventually_idle",
        TemporalOperator.EVENTUALLY,
        parse("worker.utilization <= 0.01", field="p"),
    )
    support = st.expr_support([prop.predicate])
    assert support.stateful
    corners = iter([{"env.arrival_rps": F(350)}])
    params = candidate.param_values()
    assert falsify(st, candidate, prop, support, params, F(100), corners, {}) is None


def test_safe_properties_are_never_refuted(pipeline: UPIR) -> None:
    """Every corner of every box is tried on properties that hold: nothing is found."""
    st = Structure(pipeline.architecture)
    boxes = {
        "env.arrival_rps": Interval(F(0), F(350)),
        "env.gateway_service_ms": Interval(F(1), F(5)),
        "env.worker_service_ms": Interval(F(20), F(100)),
        "env.gateway_failure_rate": Interval(F(0), F(1, 1000)),
        "env.worker_failure_rate": Interval(F(0), F(2, 1000)),
    }
    witness = {k: b.lo for k, b in boxes.items()}
    params = pipeline.param_values()
    for prop in pipeline.specification.all_properties():
        support = st.expr_support([prop.predicate, prop.trigger])
        corners = corner_environments(st, sorted(boxes), boxes, witness)
        assert falsify(st, pipeline, prop, support, params, F(100), corners, witness, 8) is None


def test_corners_replace_open_and_infinite_ends_by_the_witness(pipeline: UPIR) -> None:
    st = Structure(pipeline.architecture)
    boxes = {
        "env.worker_service_ms": Interval(F(0), F(100)),  # 0 is outside (0, inf)
        "env.arrival_rps": Interval(F(0), INF),
    }
    witness = {"env.worker_service_ms": F(30), "env.arrival_rps": F(7)}
    found = list(corner_environments(st, sorted(boxes), boxes, witness))
    assert found[0] == {"env.arrival_rps": F(7), "env.worker_service_ms": F(100)}
    assert {"env.arrival_rps": F(7), "env.worker_service_ms": F(30)} in found
    assert all(e["env.worker_service_ms"] > 0 for e in found)
    # a name with no usable end and no witness value gives nothing to try
    assert list(corner_environments(st, ["env.arrival_rps"], boxes, {})) == []


def test_queues_proved_empty_by_composition_are_lemmas(pipeline: UPIR) -> None:
    """A true correlation the ranges cannot see: the monolithic check decides it,
    with or without the composed lemma, and the same way."""
    prop = TemporalProperty(
        "same_flow",
        TemporalOperator.ALWAYS,
        parse("worker.arrival_rps >= orders.arrival_rps", field="p"),
    )
    result = Verifier(SolverSettings()).verify_property(pipeline, prop)
    assert result.status is Verdict.PROVED and result.method == "monolithic"
    assert result.proof == "inductive"
    st = Structure(pipeline.architecture)
    support = st.expr_support([prop.predicate])
    for known in ((), ("orders",)):
        checker = Checker(pipeline, st, SolverSettings(), {}, known_empty=known)
        got = checker.check(prop, support, Deadline(10_000))
        assert got.status is Verdict.PROVED and got.proof == "inductive"
