"""The Verifier API: timeouts, the proof cache, candidate checks, incremental
re-verification, the cone of influence, and concurrent use from several threads."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.settings import SolverSettings
from upir.verification import ProofCache, Verdict, Verifier, replay

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example(name: str) -> UPIR:
    return UPIR.from_resource(yaml.safe_load((EXAMPLES / name).read_text()))


def _chain(make_upir: Any, n: int = 6) -> UPIR:
    comps = [
        {
            "name": f"s{i}",
            "type": "service",
            "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 1},
        }
        for i in range(n)
    ]
    links = [(f"s{i}", f"s{i + 1}") for i in range(n - 1)]
    assumptions = (
        ["env.arrival_rps <= 50"]
        + [f"1 <= env.s{i}_service_ms <= 40" for i in range(n)]
        + [f"env.s{i}_failure_rate <= 0.01" for i in range(n)]
    )
    props = [
        {"name": f"lat{i}", "operator": "ALWAYS", "predicate": f"s{i}.latency_ms <= 80"}
        for i in range(n)
    ]
    return make_upir(
        comps, links, assumptions, properties=props, constraints={"latency_ms": {"max": 500}}
    )  # type: ignore[no-any-return]


def test_tiny_timeout_gives_timeout_never_proved(make_upir: Any) -> None:
    comps = [
        {
            "name": f"s{i}",
            "type": "service",
            "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 3},
        }
        for i in range(6)
    ]
    links = [(f"s{i}", f"s{i + 1}") for i in range(5)]
    assumptions = [f"env.s{i}_failure_rate <= 0.1" for i in range(6)]
    upir = make_upir(comps, links, assumptions, constraints={"availability": {"min": 0.99999}})
    for timeout in (1, 5, 20):
        (result,) = (
            Verifier(SolverSettings(timeout_ms=timeout), compositional=False).verify(upir).results
        )
        assert result.status in (Verdict.TIMEOUT, Verdict.ERROR, Verdict.UNKNOWN, Verdict.VIOLATED)
        assert result.status is not Verdict.PROVED
    (slow,) = Verifier(SolverSettings(timeout_ms=1), compositional=False).verify(upir).results
    assert slow.status is Verdict.TIMEOUT
    assert not slow.passed


def test_cache_hits_on_repeat_and_on_equal_cones(make_upir: Any) -> None:
    upir = _chain(make_upir)
    cache = ProofCache(128)
    verifier = Verifier(SolverSettings(), cache)
    first = verifier.verify(upir)
    assert not any(r.cached for r in first.results)
    second = verifier.verify(upir)
    assert all(r.cached for r in second.results)
    assert [r.status for r in first.results] == [r.status for r in second.results]
    # a change to s5 leaves the cones of lat0..lat4 untouched
    changed = verifier.verify(upir.with_params({"s5.retries": 2}))
    cached = {r.property.name: r.cached for r in changed.results}
    assert all(cached[f"lat{i}"] for i in range(5))
    assert not cached["lat5"] and not cached["constraint.latency_ms"]
    assert cache.stats().hits >= len(first.results) + 5


def test_cached_violation_rebinds_and_still_replays(make_upir: Any) -> None:
    upir = _chain(make_upir)
    bad = upir.with_params({"s2.timeout_ms": 200, "s2.retries": 3})
    verifier = Verifier(SolverSettings(), ProofCache(64))
    first = verifier.verify(bad).by_name()["lat2"]
    again = verifier.verify(bad).by_name()["lat2"]
    assert first.status is again.status is Verdict.VIOLATED
    assert again.cached and again.counterexample is not None
    assert replay(bad, again.property, again.counterexample)


def test_check_params_applies_values_and_rejects_bad_ones() -> None:
    upir = _example("api-service.yaml")
    verifier = Verifier(SolverSettings(), ProofCache(256))
    good = verifier.check_params(upir, {"gateway.timeout_ms": 200, "gateway.retries": 1})
    assert good.passed
    bad = verifier.check_params(upir, {"gateway.timeout_ms": 1000, "gateway.retries": 5})
    failing = {r.property.name for r in bad.failures()}
    assert "retry_budget" in failing
    for r in bad.failures():
        assert r.status is Verdict.VIOLATED and r.counterexample is not None
        assert replay(
            upir.with_params({"gateway.timeout_ms": 1000, "gateway.retries": 5}),
            r.property,
            r.counterexample,
        )
    for values in (
        {"gateway.timeout_ms": 55},
        {"gateway.retries": 9},
        {"nope.x": 1},
        {"gateway.replicas": 0},
    ):
        with pytest.raises(InvalidSpecError):
            verifier.check_params(upir, values)


def test_incremental_rechecks_only_the_cone(make_upir: Any) -> None:
    upir = _chain(make_upir)
    verifier = Verifier(SolverSettings())  # no proof cache: only the cone decides
    old = verifier.verify(upir)
    before = verifier.stats()
    new = upir.with_params({"s3.timeout_ms": 150})
    inc = verifier.verify_incremental(upir, new, old)
    after = verifier.stats()
    rechecked = (after.compositional + after.monolithic) - (
        before.compositional + before.monolithic
    )
    # lat3, the system latency constraint, and (model 2: a latency reads the
    # utilization, so the inflow) lat4 and lat5, downstream of s3's capacity
    assert rechecked == 4
    assert after.reused - before.reused == len(old.results) - 4
    full = Verifier(SolverSettings()).verify(new)
    assert [r.status for r in inc.results] == [r.status for r in full.results]
    assert [r.property.name for r in inc.results] == [r.property.name for r in full.results]


def test_cone_of_influence(make_upir: Any) -> None:
    upir = _example("api-service.yaml")
    verifier = Verifier(SolverSettings())
    props = {p.name: p for p in upir.specification.all_properties()}
    assert verifier.cone_of_influence(upir, props["retry_budget"]) == frozenset({"gateway"})
    fast = verifier.cone_of_influence(upir, props["fast"])
    # model 2: the gateway's latency includes its wait, which reads its load
    assert fast == frozenset(
        {"gateway", "env.gateway_service_ms", "env.gateway_failure_rate", "env.arrival_rps"}
    )
    no_loss = verifier.cone_of_influence(upir, props["no_loss"])
    assert {"gateway", "orders", "fulfil", "env.arrival_rps", "env.fulfil_service_ms"} <= no_loss


def test_concurrent_verification_from_threads() -> None:
    upirs = [_example(n) for n in ("api-service.yaml", "streaming-pipeline.yaml", "batch-job.yaml")]
    # model 2's latencies are rational functions of five environment names:
    # the monolithic check takes seconds each, so six threads on a small
    # machine get more than the default 10 s (a TIMEOUT would be a resource
    # limit, not a verdict: the point here is that verdicts agree)
    solver = SolverSettings(timeout_ms=120_000)
    expected = [Verifier(solver, compositional=False).verify(u) for u in upirs]
    verifier = Verifier(solver, ProofCache(32), compositional=False)
    errors: list[BaseException] = []
    seen: list[list[Verdict]] = [[] for _ in range(6)]

    def work(i: int) -> None:
        try:
            for k in range(3):
                u = upirs[(i + k) % 3]
                seen[i].append(verifier.verify(u.with_params({})).status)
                report = verifier.check_params(u, {})
                assert [r.status for r in report.results] == [
                    r.status for r in expected[(i + k) % 3].results
                ]
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(len(s) == 3 for s in seen)


def test_examples_verify(make_upir: Any) -> None:
    for name in ("api-service.yaml", "streaming-pipeline.yaml", "batch-job.yaml"):
        report = Verifier(SolverSettings()).verify(_example(name))
        assert report.passed, [(r.property.name, r.status, r.message) for r in report.failures()]
        assert report.to_json()["status"] == "PROVED"
