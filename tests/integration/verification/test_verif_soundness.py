"""Regression tests for the soundness defects found under adversarial testing
(one per class), and the differential audits at a small seed count
(``benchmarks/differential.py`` runs them at scale).

Each class test fails on the verifier before its fix."""

from __future__ import annotations

import random
from fractions import Fraction as F
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from upir.core import UPIR
from upir.expr import evaluate
from upir.settings import SolverSettings
from upir.synthesis.cegis import Synthesizer
from upir.synthesis.results import SynthesisStatus
from upir.verification import ProofCache, Verdict, Verifier, replay
from upir.verification.audit import Tally, audit_counterexample, random_upir, run_audits
from upir.verification.reference import constant_values, property_holds, simulate
from upir.verification.structure import Structure

pytestmark = pytest.mark.integration

SETTINGS = SolverSettings()


def _svc(name: str, **params: int) -> dict[str, Any]:
    base = {"replicas": 1, "concurrency": 1, "timeout_ms": 100, "retries": 0}
    base.update(params)
    return {"name": name, "type": "service", "params": base}


def _verdicts(verifier: Verifier, upir: UPIR) -> dict[str, Verdict]:
    return {r.property.name: r.status for r in verifier.verify(upir).results}


# -- 1. incremental re-checks go stale --------------------------------------------


def _diamond(make_upir: Any) -> UPIR:
    """src -> qa -> ba -> sink and src -> qb -> bb -> sink: ba's flush decides
    what sink accepts from bb too, so it decides whether qb overflows."""
    return make_upir(
        [
            _svc("src", replicas=100, concurrency=100),
            {"name": "qa", "type": "queue", "params": {"capacity": 100}},
            {"name": "ba", "type": "batcher", "params": {"batch_size": 10, "flush_ms": 1000}},
            {"name": "qb", "type": "queue", "params": {"capacity": 100}},
            {"name": "bb", "type": "batcher", "params": {"batch_size": 10, "flush_ms": 1000}},
            _svc("sink"),
        ],
        [("src", "qa"), ("qa", "ba"), ("ba", "sink"), ("src", "qb"), ("qb", "bb"), ("bb", "sink")],
        assumptions=[
            "env.arrival_rps == 500",
            "env.src_service_ms == 1",
            "env.sink_service_ms == 10",
            "env.src_failure_rate == 0",
            "env.sink_failure_rate == 0",
        ],
        invariants=[{"name": "qb_ok", "operator": "ALWAYS", "predicate": "qb.dropped == 0"}],
        parameters=[{"name": "ba.flush_ms", "min": 1, "max": 5000}],
    )


def test_check_params_recomposes_a_sibling_behind_a_shared_consumer(make_upir: Any) -> None:
    upir = _diamond(make_upir)
    warm = Verifier(SETTINGS, ProofCache(64))
    assert _verdicts(warm, upir)["qb_ok"] is Verdict.PROVED
    got = {r.property.name: r.status for r in warm.check_params(upir, {"ba.flush_ms": 5}).results}
    fresh = _verdicts(Verifier(SETTINGS), upir.with_params({"ba.flush_ms": 5}))
    assert fresh["qb_ok"] is Verdict.VIOLATED
    assert got == fresh
    # and back: the warm verifier follows the change in both directions
    back = warm.check_params(upir, {"ba.flush_ms": 1000}).results[0]
    assert back.status is Verdict.PROVED


# -- 2. assumptions that name no variable -------------------------------------------


@pytest.mark.parametrize("ground", ["false", "1 > 2", "not true", "2 * 3 == 5"])
def test_an_assumption_without_variables_counts(make_upir: Any, ground: str) -> None:
    upir = make_upir(
        [{"name": "q", "type": "queue", "params": {"capacity": 10}}],
        assumptions=[ground, "env.arrival_rps <= 5", "env.q_drain_rps >= 10"],
        invariants=[
            {"name": "holds", "operator": "ALWAYS", "predicate": "q.dropped == 0"},
            {"name": "fails", "operator": "ALWAYS", "predicate": "q.dropped > 0"},
        ],
        parameters=[{"name": "q.capacity", "min": 1, "max": 100}],
    )
    for compositional in (True, False):
        verdicts = _verdicts(Verifier(SETTINGS, compositional=compositional), upir)
        assert set(verdicts.values()) == {Verdict.ERROR}
    result = Synthesizer(SETTINGS).synthesize(upir)
    assert result.status is SynthesisStatus.INVALID_SPEC


def test_a_true_ground_assumption_changes_nothing(make_upir: Any) -> None:
    upir = make_upir(
        [{"name": "q", "type": "queue", "params": {"capacity": 10}}],
        assumptions=["1 < 2", "env.arrival_rps <= 5", "env.q_drain_rps >= 10"],
        invariants=[{"name": "holds", "operator": "ALWAYS", "predicate": "q.dropped == 0"}],
    )
    assert _verdicts(Verifier(SETTINGS), upir) == {"holds": Verdict.PROVED}


# -- 3. state shared between objects ----------------------------------------------


def _pay(make_upir: Any, kind: str) -> UPIR:
    comp = (
        {"name": "pay", "type": "queue", "params": {"capacity": 10}}
        if kind == "queue"
        else _svc("pay")
    )
    pred = "pay.length >= 0" if kind == "queue" else "pay.latency_ms <= 1"
    return make_upir(
        [comp],
        assumptions=["env.pay_failure_rate > 1", "env.arrival_rps <= 5"],
        invariants=[{"name": "x", "operator": "ALWAYS", "predicate": pred}],
        name=f"pay-{kind}",
    )


@pytest.mark.parametrize("order", [("queue", "service"), ("service", "queue")])
def test_one_verifier_for_two_objects_gives_each_its_own_verdict(
    make_upir: Any, order: tuple[str, str]
) -> None:
    # env.pay_failure_rate is free beside a queue (PROVED) and must lie in
    # [0, 1] for a service, so "> 1" allows nothing there (ERROR)
    want = {"queue": Verdict.PROVED, "service": Verdict.ERROR}
    shared = Verifier(SETTINGS, ProofCache(64))
    for kind in order:
        assert _verdicts(shared, _pay(make_upir, kind)) == {"x": want[kind]}


# -- 4 and 5. counterexamples invent nothing ------------------------------------------

X = "env.arrival_rps <= 5"


@pytest.mark.parametrize("compositional", [True, False])
@pytest.mark.parametrize("pred", [X, f"{X} or q1.length < 0", f"{X} or q1.length > 0"])
def test_counterexamples_bind_every_name_and_replay(
    make_upir: Any, pred: str, compositional: bool
) -> None:
    """q1 never holds an item (its drain is at least 100 rps), so the three
    predicates are equivalent; the counterexample holds the drain rate the run
    used (not an invented 1 rps under which q1 would fill)."""
    upir = make_upir(
        [{"name": "q1", "type": "queue", "params": {"capacity": 10}}],
        assumptions=["env.arrival_rps <= 10", "env.q1_drain_rps >= 100"],
        invariants=[{"name": "p", "operator": "ALWAYS", "predicate": pred}],
    )
    result = Verifier(SETTINGS, compositional=compositional).verify(upir).results[0]
    assert result.status is Verdict.VIOLATED
    cex = result.counterexample
    assert cex is not None
    for env in cex.env:
        assert env["env.q1_drain_rps"] >= 100
        for a in upir.specification.assumptions:
            assert evaluate(a.expr, env) is True
    assert replay(upir, result.property, cex)
    # the same counterexample with the drain rate removed no longer replays
    stripped = type(cex)(
        tuple({k: v for k, v in e.items() if k != "env.q1_drain_rps"} for e in cex.env),
        cex.trace,
        cex.violated_at,
        cex.params,
        cex.step_ms,
        cex.horizon,
        cex.constant,
    )
    assert not replay(upir, result.property, stripped)


# -- 6. ALWAYS needs more than a bounded proof ---------------------------------------


def _leak(make_upir: Any, capacity: int = 1000) -> UPIR:
    return make_upir(
        [{"name": "q", "type": "queue", "params": {"capacity": capacity}}],
        assumptions=["env.arrival_rps == 10", "env.q_drain_rps == 5"],
        invariants=[{"name": "leak", "operator": "ALWAYS", "predicate": "q.dropped == 0"}],
    )


@pytest.mark.parametrize("capacity", [1000, 10_000_000])
def test_a_slow_leak_is_violated_with_a_compressed_trace(make_upir: Any, capacity: int) -> None:
    """0.5 items a step in excess: the queue is full at step 2 * capacity and
    drops from then on, far beyond any bounded horizon."""
    upir = _leak(make_upir, capacity)
    result = Verifier(SETTINGS).verify(upir).results[0]
    assert result.status is Verdict.VIOLATED
    cex = result.counterexample
    assert cex is not None and cex.constant
    assert cex.violated_at == 2 * capacity
    assert result.message.endswith(f"held constant from step 0; violated at step {2 * capacity}")
    assert cex.describe_env() == "env.arrival_rps=10, env.q_drain_rps=5"  # the step is said once
    assert cex.trace[0]["q.dropped"] == F(1, 2)
    assert replay(upir, result.property, cex)


def test_the_closed_form_matches_step_by_step(make_upir: Any) -> None:
    upir = _leak(make_upir, 7)
    st = Structure(upir.architecture)
    env = {"env.arrival_rps": F(10), "env.q_drain_rps": F(5)}
    trace = simulate(st, upir.param_values(), [env] * 30, F(100))
    for t in range(30):
        assert constant_values(st, upir.param_values(), env, F(100), t) == trace[t]


def test_a_bounded_proof_alone_is_unknown(make_upir: Any) -> None:
    """A queue drained at 9.5 rps fills only while more than 9.5 rps arrive, and
    then the predicate holds through its second disjunct; it fails only when
    the load drops after the queue has filled for 80 steps. No 8-step run from
    empty fails, induction does not decide it (a state with 5 items fails as
    soon as the load drops), and no constant environment fails: once PROVED
    (bounded:8), now UNKNOWN, and the exact run below shows why it must not pass."""
    upir = make_upir(
        [{"name": "q", "type": "queue", "params": {"capacity": 1000}}],
        assumptions=["env.arrival_rps <= 10", "env.q_drain_rps == 9.5"],
        invariants=[
            {
                "name": "p",
                "operator": "ALWAYS",
                "predicate": "q.length <= 4 or env.arrival_rps > 9.5",
            }
        ],
    )
    for compositional in (True, False):
        result = Verifier(SETTINGS, compositional=compositional).verify(upir).results[0]
        assert result.status is Verdict.UNKNOWN, result
        assert "bounded:8" in result.message
    prop = upir.specification.all_properties()[0]
    high = {"env.arrival_rps": F(10), "env.q_drain_rps": F(19, 2)}
    low = {"env.arrival_rps": F(9), "env.q_drain_rps": F(19, 2)}
    st = Structure(upir.architecture)
    run = simulate(st, upir.param_values(), [high] * 90 + [low], F(100))
    assert run[-1]["q.length"] == F(9, 2)
    assert not property_holds(prop, run, F(100))


# -- 7. unsat explanations name domains ------------------------------------------


def _availability_spec(make_upir: Any, retries_max: int) -> UPIR:
    """0.1 failures an attempt: availability 0.999 needs 2 retries."""
    return make_upir(  # type: ignore[no-any-return]
        [_svc("svc", replicas=2, concurrency=4)],
        assumptions=[
            "env.arrival_rps <= 10",
            "env.svc_service_ms <= 20",
            "env.svc_failure_rate <= 0.1",
        ],
        constraints={"availability": {"min": 0.999}},
        parameters=[{"name": "svc.retries", "min": 0, "max": retries_max}],
    )


def test_an_unsat_explanation_names_the_domain_that_is_too_narrow(make_upir: Any) -> None:
    result = Synthesizer(SETTINGS).synthesize(_availability_spec(make_upir, 1))
    assert result.status is SynthesisStatus.UNSAT
    assert "svc.retries in [0, 1]" in result.explanation
    assert "in any domain" not in result.explanation
    # with the domain wide enough the same spec synthesizes
    wide = Synthesizer(SETTINGS).synthesize(_availability_spec(make_upir, 3))
    assert wide.status is SynthesisStatus.SUCCESS
    assert wide.parameters["svc.retries"] >= 2


# -- the differential audits, a few seeds (benchmarks/differential.py: many) -------------

AUDIT = SolverSettings(timeout_ms=2000)


def test_differential_audits_find_no_disagreement() -> None:
    tally = run_audits(range(12), AUDIT, rounds=2)
    assert tally.disagreements == []
    for audit in ("check_params", "shared", "counterexample", "equivalent"):
        assert tally.cases.get(audit, 0) >= 10, tally.cases


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.booleans())
def test_every_counterexample_is_allowed_and_replays(seed: int, compositional: bool) -> None:
    """(c) as a property: whatever the generated UPIR and the route (the
    compositional fast path or the solver alone), each VIOLATED verdict's
    counterexample binds every name, satisfies every assumption and domain,
    and replays to a violation."""
    upir = random_upir(random.Random(seed), name=f"h{seed}")
    assume(upir is not None)
    assert upir is not None
    tally = Tally()
    for result in Verifier(AUDIT, compositional=compositional).verify(upir).results:
        audit_counterexample(upir, result, tally)
    assert tally.disagreements == []
