"""Bookkeeping of the general simulator on random architectures: every request
that arrived is answered exactly once or still open, whatever the graph (forks,
joins, several entries, queues feeding queues, batchers with several
consumers, calling services, CPU contention), the arrivals and the parameter changes between
windows. A lost or doubly answered copy breaks these counts."""

from __future__ import annotations

import numpy as np
import pytest

from upir.core.upir import UPIR
from upir.patterns.generate import random_resource
from upir.simulator import Arrivals, GraphSimulator, LoadProfile, network_from_upir
from upir.simulator.graph_state import Comp


def _open_requests(sim: GraphSimulator) -> int:
    """Requests still open, counted from the live state (not from counters):
    every request (or, for a calling service's attempt, its caller's requests)
    found waiting in a line, lane or batch, or held by a running call."""
    seen: set[int] = set()

    def add(req: object) -> None:
        call = getattr(req, "call", None)
        if call is None:
            seen.add(id(req))
        elif call.current is req:  # an abandoned attempt's copies answer nobody
            for r in call.reqs:
                add(r)

    c: Comp
    for c in sim.comps:
        for _, reqs in c.line:
            for r in reqs:
                add(r)
        for lane in c.lane_list:
            for _, r in lane:
                add(r)
        for _, r in c.buf:
            add(r)
    for _, _, _, _, payload in sim._heap:
        if isinstance(payload, tuple) and len(payload) == 4 and isinstance(payload[1], list):
            for r in payload[1]:
                add(r)
        elif isinstance(payload, tuple) and len(payload) == 2 and hasattr(payload[1], "open"):
            add(payload[1])  # a drain in progress
        elif isinstance(payload, tuple) and payload and hasattr(payload[0], "reqs"):
            if payload[0].current is not None:  # a call in progress
                for r in payload[0].reqs:
                    add(r)
    return len(seen)


@pytest.mark.parametrize("seed", range(24))
def test_every_request_is_answered_once_or_still_open(seed: int) -> None:
    rng = np.random.default_rng(seed)
    upir = UPIR.from_resource(random_resource(rng, max_components=8))
    services = [c.name for c in upir.architecture.components if c.type == "service"]
    calls = tuple(s for s in services if rng.random() < 0.3)
    # CPU contention on some of the others (their replicas' counts must balance)
    cores = {s: int(rng.integers(1, 4)) for s in services if s not in calls and rng.random() < 0.5}
    net = network_from_upir(upir, calls=calls, cores=cores)
    kind = ("poisson", "constant", "mmpp")[seed % 3]
    sim = GraphSimulator(net, LoadProfile.step(80, 200, 2.0), arrivals=Arrivals(kind), seed=seed)
    arrived = answered = 0
    for i in range(4):
        if i == 2:  # change every service's slots and retries mid-run
            sim.set_params(
                {f"{s}.concurrency": float(rng.integers(1, 8)) for s in services}
                | {f"{s}.retries": float(rng.integers(0, 3)) for s in services}
            )
        w = sim.run_window(1.0).system
        arrived += w.arrivals
        answered += w.completed + w.errors + w.dropped + w.shed
        assert w.in_flight == arrived - answered
        for comp in sim.comps:
            assert comp.busy >= 0
            if comp.cores is not None:
                assert sum(comp.active) == comp.busy and min(comp.active, default=0) >= 0
    assert _open_requests(sim) == arrived - answered
