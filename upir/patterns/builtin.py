"""The built-in patterns, each as a reference instance: a UPIR resource written
with the core component types (service, queue, batcher) whose property templates
the verifier PROVES for that instance (``tests/integration/patterns`` runs it).

Component names in a reference instance are the pattern's role names. Numbers
are chosen so each property holds with margin under the stated assumptions
(worked through in each entry's comment), not at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Resource = dict[str, Any]


def _resource(
    name: str,
    system_type: str,
    components: Sequence[tuple[str, str, Mapping[str, int | float]]],
    connections: Sequence[tuple[str, str]],
    *,
    assumptions: Sequence[str],
    invariants: Sequence[tuple[str, str]] = (),
    properties: Sequence[Mapping[str, Any]] = (),
    constraints: Mapping[str, Mapping[str, int | float]] | None = None,
    parameters: Sequence[Mapping[str, Any]] = (),
) -> Resource:
    spec: dict[str, Any] = {
        "systemType": system_type,
        "architecture": {
            "components": [{"name": n, "type": t, "params": dict(p)} for n, t, p in components],
            "connections": [{"from": a, "to": b} for a, b in connections],
        },
        "specification": {
            "assumptions": list(assumptions),
            "invariants": [
                {"name": n, "operator": "ALWAYS", "predicate": p} for n, p in invariants
            ],
            "properties": [dict(p) for p in properties],
            "constraints": {k: dict(v) for k, v in (constraints or {}).items()},
        },
        "parameters": [dict(p) for p in parameters],
    }
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": spec,
    }


def _always(name: str, predicate: str) -> dict[str, Any]:
    return {"name": name, "operator": "ALWAYS", "predicate": predicate}


def _within(name: str, predicate: str, bound_ms: int) -> dict[str, Any]:
    return {"name": name, "operator": "WITHIN", "predicate": predicate, "timeBoundMs": bound_ms}


def _eventually(name: str, predicate: str) -> dict[str, Any]:
    return {"name": name, "operator": "EVENTUALLY", "predicate": predicate}


def _svc(
    replicas: int, concurrency: int, timeout_ms: int, retries: int, **extra: float
) -> dict[str, float]:
    out: dict[str, float] = {
        "replicas": replicas,
        "concurrency": concurrency,
        "timeout_ms": timeout_ms,
        "retries": retries,
    }
    out.update(extra)
    return out


def _letters(n: int) -> list[str]:
    return [chr(ord("a") + i) for i in range(n)]


# -- the families ------------------------------------------------------------------
# Latency bounds and slot counts are model 2's (docs/model.md section 3: a p99
# bound that counts the wait for a slot; no service saturated at the assumed
# load). Each builder returns a reference instance; keyword arguments vary its structure
# (branch counts, chain length) within the family. The built-in pattern uses the
# defaults; the corpus generator (upir.patterns.generate) samples the others.


def request_response(*, hops: int = 2) -> Resource:
    """api -> backend (-> backend_2 ...): each hop times out and retries."""
    chain = ["api"] + ["backend" if i == 1 else f"backend_{i}" for i in range(1, hops)]
    comps = [("api", "service", _svc(3, 16, 300, 2))]
    comps += [(n, "service", _svc(4, 16, 100, 1)) for n in chain[1:]]
    assumptions = ["env.arrival_rps <= 300", "2 <= env.api_service_ms <= 40"]
    assumptions += [f"2 <= env.{n}_service_ms <= 60" for n in chain[1:]]
    assumptions += [f"env.{n}_failure_rate <= 0.01" for n in chain]
    return _resource(
        "request-response",
        "api",
        comps,
        list(zip(chain, chain[1:], strict=False)),
        assumptions=assumptions,
        invariants=[("retry_budget", "api.timeout_ms * (api.retries + 1) <= 1000")],
        properties=[
            _within("responds", "api.latency_ms <= 300", 1000),
            _always("backend_bounded", "backend.latency_ms <= 300"),
        ],
        constraints={"availability": {"min": 0.999}},
        parameters=[
            {"name": "api.timeout_ms", "min": 50, "max": 1000, "step": 10},
            {"name": "api.retries", "min": 0, "max": 3},
            {"name": "backend.timeout_ms", "min": 20, "max": 500, "step": 10},
        ],
    )


def bounded_work_queue() -> Resource:
    """producer -> jobs (queue) -> workers, workers sized to drain the queue."""
    return _resource(
        "bounded-work-queue",
        "api",
        [
            ("producer", "service", _svc(2, 8, 200, 1)),
            ("jobs", "queue", {"capacity": 5000}),
            ("workers", "service", _svc(8, 4, 1000, 0)),
        ],
        [("producer", "jobs"), ("jobs", "workers")],
        assumptions=[
            "150 <= env.arrival_rps <= 200",
            "5 <= env.producer_service_ms <= 20",
            "20 <= env.workers_service_ms <= 100",
            "env.producer_failure_rate <= 0.01",
            "env.workers_failure_rate <= 0.01",
        ],
        invariants=[("no_loss", "jobs.dropped == 0")],
        properties=[
            _eventually("drains", "jobs.length <= jobs.capacity / 2"),
            _always("workers_headroom", "workers.utilization <= 0.8"),
        ],
        constraints={"throughput_rps": {"min": 150}},
        parameters=[
            {"name": "jobs.capacity", "min": 100, "max": 100000, "step": 100},
            {"name": "workers.replicas", "min": 1, "max": 32},
        ],
    )


def streaming_batching(*, sink: bool = False) -> Resource:
    """ingest -> events (queue) -> batcher -> processor (-> sink)."""
    comps: list[tuple[str, str, Mapping[str, int | float]]] = [
        ("ingest", "service", _svc(2, 32, 100, 1)),
        ("events", "queue", {"capacity": 20000}),
        ("batcher", "batcher", {"batch_size": 100, "flush_ms": 50}),
        ("processor", "service", _svc(4, 4, 500, 2)),
    ]
    conns = [("ingest", "events"), ("events", "batcher"), ("batcher", "processor")]
    assumptions = [
        "1000 <= env.arrival_rps <= 2000",
        "1 <= env.ingest_service_ms <= 10",
        "20 <= env.processor_service_ms <= 120",
        "env.ingest_failure_rate <= 0.001",
        "env.processor_failure_rate <= 0.01",
    ]
    if sink:
        comps.append(("sink", "service", _svc(8, 16, 200, 1)))
        conns.append(("processor", "sink"))
        assumptions += ["5 <= env.sink_service_ms <= 50", "env.sink_failure_rate <= 0.01"]
    return _resource(
        "streaming-batching",
        "streaming",
        comps,
        conns,
        assumptions=assumptions,
        invariants=[("no_drops", "events.dropped == 0")],
        properties=[
            _always("batch_wait_bounded", "batcher.wait_ms <= 100"),
            _always("ingest_bounded", "ingest.latency_ms <= 50"),
        ],
        constraints={"throughput_rps": {"min": 1000}},
        parameters=[
            {"name": "batcher.batch_size", "min": 1, "max": 1000},
            {"name": "batcher.flush_ms", "min": 0, "max": 1000, "step": 5},
            {"name": "events.capacity", "min": 1000, "max": 200000, "step": 1000},
        ],
    )


def batch_etl(*, transforms: int = 1) -> Resource:
    """extract -> chunker (batcher) -> transform(s) -> load, bounded cost."""
    stages = ["transform" if i == 0 else f"transform_{i + 1}" for i in range(transforms)]
    comps: list[tuple[str, str, Mapping[str, int | float]]] = [
        ("extract", "service", _svc(2, 32, 2000, 3, cost_per_replica=2)),
        ("chunker", "batcher", {"batch_size": 500, "flush_ms": 1000}),
    ]
    comps += [(n, "service", _svc(2, 64, 3000, 2, cost_per_replica=2)) for n in stages]
    comps.append(("load", "service", _svc(2, 128, 5000, 2, cost_per_replica=3)))
    chain = ["extract", "chunker", *stages, "load"]
    assumptions = [
        "env.arrival_rps <= 20",
        "50 <= env.extract_service_ms <= 1500",
        "100 <= env.load_service_ms <= 4000",
    ]
    assumptions += [f"100 <= env.{n}_service_ms <= 2500" for n in stages]
    assumptions += [f"env.{n}_failure_rate <= 0.05" for n in ["extract", *stages, "load"]]
    covers = " and ".join(
        [
            "extract.timeout_ms >= 1500",
            *[f"{n}.timeout_ms >= 2500" for n in stages],
            "load.timeout_ms >= 4000",
        ]
    )
    return _resource(
        "batch-etl",
        "batch",
        comps,
        list(zip(chain, chain[1:], strict=False)),
        assumptions=assumptions,
        invariants=[("timeouts_cover_service", covers)],
        properties=[_always("reliable_load", "load.availability >= 0.999")],
        constraints={"cost": {"max": 20 + 4 * transforms}},
        parameters=[
            {"name": "chunker.batch_size", "min": 10, "max": 5000, "step": 10},
            {"name": "load.retries", "min": 0, "max": 5},
        ],
    )


def pubsub_fanout(*, subscribers: int = 3) -> Resource:
    """publisher -> topic (queue) -> every subscriber."""
    subs = [f"sub_{c}" for c in _letters(subscribers)]
    return _resource(
        "pubsub-fanout",
        "api",
        [
            ("publisher", "service", _svc(2, 16, 100, 1)),
            ("topic", "queue", {"capacity": 10000}),
            *[(n, "service", _svc(2, 8, 200, 1)) for n in subs],
        ],
        [("publisher", "topic"), *[("topic", n) for n in subs]],
        assumptions=[
            "env.arrival_rps <= 100",
            "1 <= env.publisher_service_ms <= 20",
            *[f"5 <= env.{n}_service_ms <= 50" for n in subs],
        ],
        invariants=[("topic_no_loss", "topic.dropped == 0")],
        properties=[
            _always("subscribers_keep_up", " and ".join(f"{n}.utilization <= 0.8" for n in subs))
        ],
        parameters=[{"name": "topic.capacity", "min": 100, "max": 100000, "step": 100}],
    )


def leader_election() -> Resource:
    """leader -> heartbeat (batcher flushing every interval) -> followers."""
    return _resource(
        "leader-election",
        "api",
        [
            ("leader", "service", _svc(2, 8, 100, 2)),
            ("heartbeat", "batcher", {"batch_size": 1, "flush_ms": 100}),
            ("followers", "service", _svc(4, 4, 1000, 0)),
        ],
        [("leader", "heartbeat"), ("heartbeat", "followers")],
        assumptions=[
            "env.arrival_rps <= 50",
            "1 <= env.leader_service_ms <= 20",
            "1 <= env.followers_service_ms <= 50",
        ],
        invariants=[
            ("quorum", "leader.replicas + followers.replicas >= 5"),
            ("heartbeats_before_election", "heartbeat.wait_ms * 3 <= followers.timeout_ms"),
        ],
        properties=[_within("leader_answers", "leader.latency_ms <= 150", 1000)],
        parameters=[
            {"name": "heartbeat.flush_ms", "min": 10, "max": 1000, "step": 10},
            {"name": "followers.timeout_ms", "min": 100, "max": 10000, "step": 100},
        ],
    )


def two_phase_commit(*, participants: int = 3) -> Resource:
    """coordinator -> every participant; its timeout covers their worst answer."""
    ps = [f"p{i + 1}" for i in range(participants)]
    return _resource(
        "two-phase-commit",
        "api",
        [
            ("coordinator", "service", _svc(1, 8, 2000, 1)),
            *[(n, "service", _svc(4, 8, 400, 1)) for n in ps],
        ],
        [("coordinator", n) for n in ps],
        assumptions=[
            "env.arrival_rps <= 20",
            "1 <= env.coordinator_service_ms <= 50",
            *[f"5 <= env.{n}_service_ms <= 300" for n in ps],
        ],
        invariants=[
            (
                "votes_before_timeout",
                " and ".join(f"{n}.latency_ms <= coordinator.timeout_ms" for n in ps),
            )
        ],
        properties=[_within("decides", "coordinator.latency_ms <= 300", 2000)],
        parameters=[{"name": "coordinator.timeout_ms", "min": 100, "max": 10000, "step": 100}],
    )


def circuit_breaker() -> Resource:
    """caller -> dependency, the caller failing fast (tight timeout, no retries)."""
    return _resource(
        "circuit-breaker",
        "api",
        [
            ("caller", "service", _svc(2, 32, 50, 0)),
            ("dependency", "service", _svc(2, 64, 1000, 0)),
        ],
        [("caller", "dependency")],
        assumptions=[
            "env.arrival_rps <= 100",
            "1 <= env.caller_service_ms <= 2000",
            "10 <= env.dependency_service_ms <= 5000",
            "env.dependency_failure_rate <= 0.5",
        ],
        invariants=[("no_retry_storm", "caller.retries == 0")],
        properties=[_always("fails_fast", "caller.latency_ms <= 150")],
        parameters=[{"name": "caller.timeout_ms", "min": 10, "max": 500, "step": 10}],
    )


def bulkhead(*, pools: int = 2) -> Resource:
    """gateway -> pool_x (queue) -> workers_x, one isolated pool per kind of work."""
    ks = _letters(pools)
    comps: list[tuple[str, str, Mapping[str, int | float]]] = [
        ("gateway", "service", _svc(2, 16, 200, 1))
    ]
    comps += [(f"pool_{k}", "queue", {"capacity": 1000}) for k in ks]
    comps += [(f"workers_{k}", "service", _svc(4, 4, 500, 0)) for k in ks]
    conns = [("gateway", f"pool_{k}") for k in ks] + [(f"pool_{k}", f"workers_{k}") for k in ks]
    return _resource(
        "bulkhead",
        "api",
        comps,
        conns,
        assumptions=[
            "env.arrival_rps <= 100",
            "1 <= env.gateway_service_ms <= 20",
            *[f"10 <= env.workers_{k}_service_ms <= 100" for k in ks],
        ],
        invariants=[(f"pool_{k}_no_loss", f"pool_{k}.dropped == 0") for k in ks],
        properties=[
            _always("pools_isolated", " and ".join(f"workers_{k}.utilization <= 0.9" for k in ks))
        ],
        parameters=[{"name": f"workers_{k}.concurrency", "min": 1, "max": 64} for k in ks],
    )


def cache_aside() -> Resource:
    """app -> cache and app -> database: a fast cache in front of a slower store."""
    return _resource(
        "cache-aside",
        "api",
        [
            ("app", "service", _svc(3, 32, 700, 1)),
            ("cache", "service", _svc(3, 64, 10, 0)),
            ("database", "service", _svc(8, 32, 300, 1)),
        ],
        [("app", "cache"), ("app", "database")],
        assumptions=[
            "env.arrival_rps <= 500",
            "1 <= env.app_service_ms <= 20",
            "1 <= env.cache_service_ms <= 5",
            "5 <= env.database_service_ms <= 250",
            "env.database_failure_rate <= 0.01",
        ],
        invariants=[("cache_cheap", "cache.timeout_ms * 10 <= database.timeout_ms")],
        properties=[
            _always("cache_fast", "cache.latency_ms <= 20"),
            _within("database_bounded", "database.latency_ms <= 1200", 1000),
        ],
        constraints={"latency_ms": {"max": 1500}},
        parameters=[
            {"name": "cache.timeout_ms", "min": 1, "max": 100},
            {"name": "database.timeout_ms", "min": 50, "max": 2000, "step": 10},
        ],
    )


@dataclass(frozen=True, slots=True)
class BuiltinPattern:
    """A built-in pattern: its family builder and the inclusive ranges of the
    builder's structural knobs (``knobs``) that instances of the family take."""

    id: str
    name: str
    description: str
    build: Callable[..., Resource]
    knobs: Mapping[str, tuple[int, int]]

    @property
    def reference(self) -> Resource:
        """The reference instance (the builder's defaults); a fresh copy each time."""
        return self.build()


def _bp(
    id: str, name: str, description: str, build: Callable[..., Resource], **knobs: tuple[int, int]
) -> BuiltinPattern:
    return BuiltinPattern(id, name, description, build, MappingProxyType(knobs))


BUILTINS: tuple[BuiltinPattern, ...] = (
    _bp(
        "request-response",
        "Request/response API with timeouts and retries",
        "A front service calls a backend synchronously; each hop bounds an attempt with a "
        "timeout and retries a bounded number of times.",
        request_response,
        hops=(2, 3),
    ),
    _bp(
        "bounded-work-queue",
        "Bounded work queue",
        "Producers enqueue jobs into a bounded queue drained by a worker pool sized so that "
        "the queue never overflows.",
        bounded_work_queue,
    ),
    _bp(
        "streaming-batching",
        "Streaming pipeline with batching",
        "An ingest service buffers events in a queue; a batcher groups them for a processor, "
        "bounding how long an event waits for its batch.",
        streaming_batching,
        sink=(0, 1),
    ),
    _bp(
        "batch-etl",
        "Batch ETL",
        "Extract, chunk into large batches, transform and load, with long timeouts, generous "
        "retries and a bounded cost.",
        batch_etl,
        transforms=(1, 2),
    ),
    _bp(
        "pubsub-fanout",
        "Pub/sub fan-out",
        "A publisher writes to a topic queue that every subscriber consumes; the topic must "
        "absorb the slowest subscriber.",
        pubsub_fanout,
        subscribers=(2, 5),
    ),
    _bp(
        "leader-election",
        "Leader election with heartbeats",
        "A leader sends periodic heartbeats (a batcher flushing every interval) to followers "
        "whose election timeout must exceed several heartbeat intervals.",
        leader_election,
    ),
    _bp(
        "two-phase-commit",
        "Two-phase commit",
        "A coordinator collects votes from every participant; its timeout must cover a "
        "participant's worst-case answer, retries included.",
        two_phase_commit,
        participants=(2, 5),
    ),
    _bp(
        "circuit-breaker",
        "Circuit breaker",
        "A caller protects itself from a slow, failing dependency: a tight timeout and no "
        "retries bound its latency whatever the dependency does.",
        circuit_breaker,
    ),
    _bp(
        "bulkhead",
        "Bulkhead",
        "A gateway routes work into separate bounded pools, each with its own queue and "
        "workers, so one saturated pool cannot exhaust the others.",
        bulkhead,
        pools=(2, 4),
    ),
    _bp(
        "cache-aside",
        "Cache-aside",
        "An application reads a fast cache first and falls back to the database on a miss; "
        "the cache's timeout is a small fraction of the database's.",
        cache_aside,
    ),
)
BUILTIN_IDS: tuple[str, ...] = tuple(b.id for b in BUILTINS)
BUILTIN_BY_ID: Mapping[str, BuiltinPattern] = MappingProxyType({b.id: b for b in BUILTINS})
