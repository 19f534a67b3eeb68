"""Hand-made true and false properties for every operator and every component
type, with and without assumptions. Each case runs through the compositional
and the purely monolithic verifier; both must give the expected verdict, and every
VIOLATED verdict must carry a counterexample that replays without Z3."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from upir.settings import SolverSettings
from upir.verification import ProofCache, Verdict, Verifier, replay

pytestmark = pytest.mark.integration

SVC = {
    "name": "s",
    "type": "service",
    "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 2},
}
SVC_ENV = ["10 <= env.s_service_ms <= 50", "env.s_failure_rate <= 0.01", "env.arrival_rps <= 100"]
QUEUE = {"name": "q", "type": "queue", "params": {"capacity": 100}}
FILLING = ["200 <= env.arrival_rps <= 300", "10 <= env.q_drain_rps <= 50"]
BATCHER = {"name": "b", "type": "batcher", "params": {"batch_size": 10, "flush_ms": 50}}
API = [
    {
        "name": "gateway",
        "type": "service",
        "params": {"replicas": 6, "concurrency": 16, "timeout_ms": 300, "retries": 2},
    },
    {"name": "orders", "type": "queue", "params": {"capacity": 5000}},
    {
        "name": "fulfil",
        "type": "service",
        "params": {"replicas": 4, "concurrency": 16, "timeout_ms": 200, "retries": 1},
    },
]
API_LINKS = [("gateway", "orders"), ("orders", "fulfil")]
# the gateway as examples/api-service.yaml shipped under model 1: 24 slots give
# about 594 req/s at 40 ms, below the assumed 800 req/s peak (saturated)
SATURATED_API = [
    {**API[0], "params": {**API[0]["params"], "replicas": 3, "concurrency": 8}},
    *API[1:],
]
API_ENV = [
    "env.arrival_rps <= 800",
    "5 <= env.gateway_service_ms <= 40",
    "2 <= env.fulfil_service_ms <= 20",
    "env.gateway_failure_rate <= 0.01",
    "env.fulfil_failure_rate <= 0.01",
]


@dataclass
class Case:
    id: str
    components: list[dict[str, Any]]
    prop: dict[str, Any]
    expected: Verdict
    assumptions: list[str] = field(default_factory=list)
    connections: list[tuple[str, str]] = field(default_factory=list)
    constraints: dict[str, Any] | None = None
    proof: str | None = None


def p(op: str, pred: str, trigger: str | None = None, bound: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "p", "operator": op, "predicate": pred}
    if trigger is not None:
        out["trigger"] = trigger
    if bound is not None:
        out["timeBoundMs"] = bound
    return out


PROVED, VIOLATED = Verdict.PROVED, Verdict.VIOLATED
CASES = [
    # service, stateless
    # p99 at the corner (s=50, f=0.01, 100 rps, utilization 0.63): 150 + 365.5
    Case(
        "svc-always-true",
        [SVC],
        p("ALWAYS", "s.latency_ms <= 520"),
        PROVED,
        SVC_ENV,
        proof="stateless",
    ),
    Case("svc-always-false", [SVC], p("ALWAYS", "s.latency_ms <= 510"), VIOLATED, SVC_ENV),
    Case("svc-always-true-no-assumptions", [SVC], p("ALWAYS", "s.call_ms <= 300"), PROVED),
    # no bound on the arrivals: the service may be saturated, so no latency
    # bound holds however large (model 2), unless the predicate guards it
    Case(
        "svc-saturated-no-assumptions",
        [SVC],
        p("ALWAYS", "s.latency_ms <= 1000000000"),
        VIOLATED,
    ),
    Case(
        "svc-saturated-guarded",
        [SVC],
        p("ALWAYS", "s.utilization >= 0.9 or s.latency_ms <= 2000"),
        PROVED,
        SVC_ENV[:2],
    ),
    Case(
        "svc-saturated-sheds",
        [SVC],
        p("ALWAYS", "s.shed_rps == 0"),
        VIOLATED,
        SVC_ENV[:2],
    ),
    Case("svc-always-false-no-assumptions", [SVC], p("ALWAYS", "s.availability >= 0.5"), VIOLATED),
    Case("svc-eventually-true", [SVC], p("EVENTUALLY", "s.availability >= 0.999"), PROVED, SVC_ENV),
    Case("svc-eventually-false", [SVC], p("EVENTUALLY", "s.utilization <= 0.1"), VIOLATED, SVC_ENV),
    Case(
        "svc-within-true", [SVC], p("WITHIN", "s.capacity_rps >= 150", bound=500), PROVED, SVC_ENV
    ),
    Case(
        "svc-within-false",
        [SVC],
        p("WITHIN", "s.capacity_rps >= 200", bound=500),
        VIOLATED,
        SVC_ENV,
    ),
    Case(
        "svc-until-true",
        [SVC],
        p("UNTIL", "s.latency_ms <= 10", "s.attempt_ms <= 50"),
        PROVED,
        SVC_ENV,
    ),
    Case(
        "svc-until-false",
        [SVC],
        p("UNTIL", "s.latency_ms <= 1000", "s.attempt_ms <= 20"),
        VIOLATED,
        SVC_ENV,
    ),
    Case("svc-since-true", [SVC], p("SINCE", "false", "s.latency_ms <= 520"), PROVED, SVC_ENV),
    Case("svc-since-false", [SVC], p("SINCE", "true", "s.latency_ms < 30"), VIOLATED, SVC_ENV),
    # queue, stateful
    Case(
        "queue-always-true",
        [QUEUE],
        p("ALWAYS", "q.dropped == 0"),
        PROVED,
        ["env.arrival_rps <= 100", "env.q_drain_rps >= 200"],
        proof="inductive",
    ),
    Case(
        "queue-always-false-beyond-horizon",
        [QUEUE],
        p("ALWAYS", "q.dropped == 0"),
        VIOLATED,
        ["env.arrival_rps <= 100", "env.q_drain_rps >= 50"],
    ),
    Case("queue-always-false-no-assumptions", [QUEUE], p("ALWAYS", "q.dropped == 0"), VIOLATED),
    Case(
        "queue-eventually-true",
        [QUEUE],
        p("EVENTUALLY", "q.length >= 1"),
        PROVED,
        FILLING,
        proof="bounded:8",
    ),
    Case(
        "queue-eventually-false",
        [QUEUE],
        p("EVENTUALLY", "q.length >= 1"),
        VIOLATED,
        ["env.arrival_rps <= 100", "env.q_drain_rps >= 200"],
    ),
    Case("queue-within-true", [QUEUE], p("WITHIN", "q.length >= 20", bound=300), PROVED, FILLING),
    Case(
        "queue-within-false", [QUEUE], p("WITHIN", "q.length >= 20", bound=100), VIOLATED, FILLING
    ),
    Case(
        "queue-until-true", [QUEUE], p("UNTIL", "q.dropped == 0", "q.length >= 50"), PROVED, FILLING
    ),
    Case(
        "queue-until-false",
        [QUEUE],
        p("UNTIL", "q.dropped == 0", "q.length >= 150"),
        VIOLATED,
        FILLING,
    ),
    Case(
        "queue-since-true", [QUEUE], p("SINCE", "q.length >= 10", "q.length == 0"), PROVED, FILLING
    ),
    Case(
        "queue-since-false",
        [QUEUE],
        p("SINCE", "q.length >= 20", "q.length == 0"),
        VIOLATED,
        FILLING,
    ),
    Case(
        "queue-wait-always-false",
        [QUEUE],
        p("ALWAYS", "q.wait_ms <= 1000"),
        VIOLATED,
        ["env.arrival_rps <= 100", "env.q_drain_rps >= 50"],
    ),
    # batcher
    Case("batcher-always-true-no-assumptions", [BATCHER], p("ALWAYS", "b.wait_ms <= 50"), PROVED),
    Case(
        "batcher-always-false",
        [BATCHER],
        p("ALWAYS", "b.wait_ms <= 40"),
        VIOLATED,
        ["env.arrival_rps <= 1000"],
    ),
    Case(
        "batcher-always-true",
        [BATCHER],
        p("ALWAYS", "b.wait_ms <= 25"),
        PROVED,
        ["env.arrival_rps >= 400"],
    ),
    Case(
        "batcher-eventually-true",
        [BATCHER],
        p("EVENTUALLY", "b.batch_items >= 10"),
        PROVED,
        ["env.arrival_rps >= 200"],
    ),
    Case(
        "batcher-eventually-false",
        [BATCHER],
        p("EVENTUALLY", "b.batch_items >= 10"),
        VIOLATED,
        ["env.arrival_rps >= 100"],
    ),
    # system constraints
    Case(
        "sys-latency-true",
        API,
        p("ALWAYS", "true"),
        PROVED,
        API_ENV,
        API_LINKS,
        {"latency_ms": {"max": 500}},
    ),
    Case(
        "sys-latency-false",
        API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"latency_ms": {"max": 100}},
    ),
    Case(
        "sys-availability-true",
        API,
        p("ALWAYS", "true"),
        PROVED,
        API_ENV,
        API_LINKS,
        {"availability": {"min": 0.999}},
    ),
    Case(
        "sys-latency-saturated",
        SATURATED_API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"latency_ms": {"max": 100000}},
    ),
    Case(
        "sys-availability-saturated",
        SATURATED_API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"availability": {"min": 0.99}},
    ),
    Case(
        "sys-loss-saturated",
        SATURATED_API,
        p("ALWAYS", "system.loss <= 0.01"),
        VIOLATED,
        API_ENV,
        API_LINKS,
    ),
    Case(
        "sys-availability-false",
        API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"availability": {"min": 0.9999}},
    ),
    Case(
        "sys-cost-true", API, p("ALWAYS", "true"), PROVED, API_ENV, API_LINKS, {"cost": {"max": 10}}
    ),
    Case(
        "sys-cost-false",
        API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"cost": {"max": 6}},
    ),
    Case(
        "sys-throughput-false",
        API,
        p("ALWAYS", "true"),
        VIOLATED,
        API_ENV,
        API_LINKS,
        {"throughput_rps": {"min": 500}},
    ),
    Case(
        "sys-throughput-true",
        API,
        p("ALWAYS", "true"),
        PROVED,
        [*API_ENV, "env.arrival_rps >= 500"],
        API_LINKS,
        {"throughput_rps": {"min": 500}},
    ),
    Case(
        "api-no-loss",
        API,
        p("ALWAYS", "orders.dropped == 0"),
        PROVED,
        API_ENV,
        API_LINKS,
        proof="inductive",
    ),
    # division by zero, free environment names, non-box assumptions
    Case("div-zero-violated", [SVC], p("ALWAYS", "100 / env.x > 0"), VIOLATED, ["env.x >= 0"]),
    Case(
        "div-zero-guarded",
        [SVC],
        p("ALWAYS", "env.x == 0 or 100 / env.x > 0"),
        PROVED,
        ["env.x >= 0"],
    ),
    Case("mod", [SVC], p("ALWAYS", "s.timeout_ms % 30 == 10"), PROVED),
    Case(
        "free-env-true",
        [SVC],
        p("ALWAYS", "env.a <= 10"),
        PROVED,
        ["env.a + env.b <= 10", "env.a >= 0", "env.b >= 0"],
    ),
    Case(
        "free-env-false",
        [SVC],
        p("ALWAYS", "env.a <= 9"),
        VIOLATED,
        ["env.a + env.b <= 10", "env.a >= 0", "env.b >= 0"],
    ),
]


def _verify(make_upir: Any, case: Case, compositional: bool) -> Any:
    upir = make_upir(
        case.components,
        case.connections,
        case.assumptions,
        properties=[case.prop],
        constraints=case.constraints,
    )
    verifier = Verifier(
        SolverSettings(timeout_ms=20_000), ProofCache(64), compositional=compositional
    )
    report = verifier.verify(upir)
    if case.constraints:
        (result,) = [r for r in report.results if r.property.kind == "constraint"]
    else:
        (result,) = report.results
    return upir, result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("compositional", [True, False], ids=["compositional", "monolithic"])
def test_verdict(make_upir: Any, case: Case, compositional: bool) -> None:
    upir, result = _verify(make_upir, case, compositional)
    assert result.status is case.expected, result.message
    if case.expected is Verdict.VIOLATED:
        assert result.counterexample is not None
        assert replay(upir, result.property, result.counterexample), result.counterexample.to_json()
    else:
        assert result.counterexample is None
        assert result.proof is not None
        if case.proof is not None and not compositional:
            assert result.proof == case.proof


def test_unsatisfiable_assumptions_are_an_error(make_upir: Any) -> None:
    upir = make_upir(
        [SVC],
        assumptions=["env.arrival_rps >= 10", "env.arrival_rps <= 5"],
        properties=[p("ALWAYS", "s.latency_ms <= 1")],
    )
    report = Verifier(SolverSettings()).verify(upir)
    assert [r.status for r in report.results] == [Verdict.ERROR]
    assert report.warnings and "contradict" in report.warnings[0]
    assert not report.passed


def test_queue_overflow_beyond_horizon_replays_at_the_first_drop(make_upir: Any) -> None:
    upir = make_upir(
        [QUEUE],
        assumptions=["env.arrival_rps <= 100", "env.q_drain_rps >= 50"],
        properties=[p("ALWAYS", "q.dropped == 0")],
    )
    (result,) = Verifier(SolverSettings(), compositional=False).verify(upir).results
    cex = result.counterexample
    assert cex is not None and cex.constant
    assert cex.violated_at is not None and cex.violated_at > SolverSettings().bmc_steps
    assert cex.trace[-1]["q.dropped"] > 0
    assert replay(upir, result.property, cex)


def test_counterexample_json_round_trip_replays(make_upir: Any) -> None:
    from upir.verification import Counterexample

    upir = make_upir(
        [QUEUE], assumptions=FILLING, properties=[p("WITHIN", "q.length >= 20", bound=100)]
    )
    (result,) = Verifier(SolverSettings()).verify(upir).results
    assert result.counterexample is not None
    again = Counterexample.from_json(result.counterexample.to_json())
    assert again == result.counterexample
    assert replay(upir, result.property, again)
