"""The proof cache: LRU behaviour, statistics, thread safety, and keys that
change exactly when something in the property's cone changes."""

from __future__ import annotations

import threading
from fractions import Fraction as F
from typing import Any

from upir.core import UPIR, TemporalOperator, TemporalProperty
from upir.expr import parse
from upir.settings import SolverSettings
from upir.verification.cache import ProofCache, SpecInfo, property_key, property_text
from upir.verification.memo import LRU
from upir.verification.results import Verdict, VerificationResult
from upir.verification.structure import Structure

CHAIN = [
    {"name": "a", "type": "service", "params": {"timeout_ms": 100}},
    {"name": "q", "type": "queue", "params": {"capacity": 50}},
    {"name": "b", "type": "service", "params": {"timeout_ms": 200}},
    {"name": "c", "type": "service", "params": {"timeout_ms": 300}},
]
LINKS = [("a", "q"), ("q", "b")]


def _prop(text: str, name: str = "p") -> TemporalProperty:
    return TemporalProperty(name, TemporalOperator.ALWAYS, parse(text, field="t", expect="bool"))


def _result(status: Verdict) -> VerificationResult:
    return VerificationResult(_prop("true"), status)


def test_lru_evicts_least_recently_used_and_counts() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)
    assert lru.get("b") is None
    assert lru.get("a") == 1 and lru.get("c") == 3
    stats = lru.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.evictions) == (3, 1, 2, 1)
    assert 0 < stats.hit_rate < 1


def test_size_zero_stores_nothing() -> None:
    cache = ProofCache(0)
    cache.put("k", _result(Verdict.PROVED))
    assert cache.get("k") is None and len(cache) == 0


def test_only_definitive_verdicts_are_stored() -> None:
    cache = ProofCache(8)
    for i, status in enumerate(Verdict):
        cache.put(str(i), _result(status))
    stored = {
        cache.get(str(i)).status for i in range(len(Verdict)) if cache.get(str(i)) is not None
    }  # type: ignore[union-attr]
    assert stored == {Verdict.PROVED, Verdict.VIOLATED}


def test_concurrent_use_keeps_the_bound_and_the_counts() -> None:
    cache = ProofCache(64)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(2000):
                key = str((seed * 7919 + i) % 200)
                if cache.get(key) is None:
                    cache.put(key, _result(Verdict.PROVED))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = cache.stats()
    assert stats.entries <= 64
    assert stats.hits + stats.misses == 8 * 2000


def _key(upir: UPIR, prop: TemporalProperty, settings: SolverSettings | None = None) -> str:
    st = Structure(upir.architecture)
    support = st.expr_support([prop.predicate, prop.trigger])
    params = {
        c.name: c.effective_params()
        for c in upir.architecture.components
        if c.name in support.components
    }
    info = SpecInfo(upir.specification.assumptions)
    return property_key(
        property_text(prop),
        st,
        support,
        params,
        info.group_texts(support.env),
        info.group_names(support.env),
        settings or SolverSettings(),
    )


def _upir(make_upir: Any, assumptions: list[str] | None = None) -> UPIR:
    return make_upir(
        CHAIN, LINKS, assumptions or ["env.a_service_ms <= 50", "env.c_service_ms <= 10"]
    )  # type: ignore[no-any-return]


def test_key_follows_the_cone(make_upir: Any) -> None:
    upir = _upir(make_upir)
    latency = _prop("a.latency_ms <= 500")  # cone: a only
    dropped = _prop("q.dropped == 0")  # cone: a (inflow), q, b (drain)
    base_lat, base_drop = _key(upir, latency), _key(upir, dropped)
    # a parameter outside both cones
    other = upir.with_params({"c.timeout_ms": 400})
    assert _key(other, latency) == base_lat and _key(other, dropped) == base_drop
    # the drain side only matters to the queue property
    drain = upir.with_params({"b.replicas": 3})
    assert _key(drain, latency) == base_lat and _key(drain, dropped) != base_drop
    # the service itself matters to both
    own = upir.with_params({"a.retries": 1})
    assert _key(own, latency) != base_lat and _key(own, dropped) != base_drop
    # an equal value written differently is the same key
    same = upir.with_params({"a.timeout_ms": F(100)})
    assert _key(same, latency) == base_lat


def test_key_ignores_the_name_but_not_the_meaning(make_upir: Any) -> None:
    upir = _upir(make_upir)
    assert _key(upir, _prop("a.latency_ms <= 500", "x")) == _key(
        upir, _prop("a.latency_ms <= 500", "y")
    )
    assert _key(upir, _prop("a.latency_ms <= 500")) != _key(upir, _prop("a.latency_ms <= 501"))
    eventually = TemporalProperty(
        "p", TemporalOperator.EVENTUALLY, parse("a.latency_ms <= 500", field="t", expect="bool")
    )
    assert _key(upir, eventually) != _key(upir, _prop("a.latency_ms <= 500"))


def test_key_covers_relevant_assumptions_and_settings(make_upir: Any) -> None:
    latency = _prop("a.latency_ms <= 500")
    base = _key(_upir(make_upir), latency)
    assert (
        _key(_upir(make_upir, ["env.a_service_ms <= 60", "env.c_service_ms <= 10"]), latency)
        != base
    )
    assert (
        _key(_upir(make_upir, ["env.a_service_ms <= 50", "env.c_service_ms <= 99"]), latency)
        == base
    )
    upir = _upir(make_upir)
    assert _key(upir, latency, SolverSettings(bmc_steps=9)) != base
    assert _key(upir, latency, SolverSettings(step_ms=50)) != base
    assert _key(upir, latency, SolverSettings(timeout_ms=5)) == base
