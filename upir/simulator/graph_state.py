"""Runtime state of the general simulator (:mod:`upir.simulator.graph`): one
request, one component's window counters, one component's live state."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from upir.simulator.network import Node

__all__ = ["Comp", "Req", "Stats"]

_INF = math.inf


class Req:
    __slots__ = ("call", "fail", "open", "t0")

    def __init__(self, t0: float, call: Call | None = None) -> None:
        self.t0 = t0
        self.open = 1  # copies of it still in the graph
        self.fail: str | None = None  # "error" | "dropped" | "shed"
        self.call = call  # the calling service's call this attempt belongs to


class Call:
    """A calling service's call (``Node.calls``): its items, its attempts, and
    the attempt in force (an abandoned one's answer is ignored)."""

    __slots__ = ("attempt", "comp", "current", "reqs", "t_in")

    def __init__(self, comp: Comp, t_in: float, reqs: list[Req]) -> None:
        self.comp = comp
        self.t_in = t_in
        self.reqs = reqs
        self.attempt = 0
        self.current: Req | None = None


class Stats:
    """One component's counters for the current window."""

    __slots__ = (
        "arrivals",
        "batch_items",
        "batches",
        "dropped",
        "errors",
        "failures",
        "integral",
        "last_t",
        "lat",
        "level",
        "max_level",
        "ok",
        "retries",
        "shed",
        "timeouts",
        "busy",
        "busy_integral",
        "t0",
    )

    def __init__(self, t0: float, level: int, busy: int) -> None:
        self.arrivals = self.ok = self.errors = self.dropped = self.shed = 0
        self.retries = self.timeouts = self.failures = self.batches = self.batch_items = 0
        self.lat: list[float] = []
        self.level = level
        self.max_level = level
        self.integral = 0.0
        self.busy = busy
        self.busy_integral = 0.0
        self.last_t = t0
        self.t0 = t0

    def move(self, now: float, level: int, busy: int) -> None:
        dt = now - self.last_t
        if dt > 0:
            self.integral += self.level * dt
            self.busy_integral += self.busy * dt
            self.last_t = now
        self.level = level
        self.busy = busy
        if level > self.max_level:
            self.max_level = level


class Comp:
    """Runtime state of one node (one class for the three types keeps the hot
    loop free of isinstance checks)."""

    __slots__ = (
        "B",
        "F",
        "T",
        "active",
        "budget",
        "buf",
        "buf_limit",
        "capacity",
        "consumer",
        "cost",
        "drain_busy",
        "drain_ms",
        "fail_buf",
        "fail_i",
        "fail_rng",
        "failure_rate",
        "flush_at",
        "idx",
        "lanes",
        "lane_list",
        "line",
        "name",
        "node",
        "pull_mode",
        "retries",
        "slots",
        "sources",
        "st",
        "stats",
        "succs",
        "svc_buf",
        "svc_i",
        "svc_rng",
        "type",
        "calls",
        "busy",
        "conc",
        "cores",
        "feeders",
        "replicas",
    )

    stats: Stats
    svc_rng: np.random.Generator
    fail_rng: np.random.Generator

    def __init__(self, idx: int, node: Node) -> None:
        self.idx = idx
        self.node = node
        self.name = node.name
        self.type = node.type
        self.succs: list[Comp] = []
        self.lanes: dict[str, deque[tuple[float, Req]]] = {}  # queue: consumer -> lane
        self.lane_list: list[deque[tuple[float, Req]]] = []  # lanes.values(), for speed
        self.line: deque[tuple[float, list[Req]]] = deque()  # service: its own line
        self.buf: deque[tuple[float, Req]] = deque()  # batcher: the forming batch(es)
        # service: where it takes work from: ("line", its line, None), ("lane", a
        # queue's lane, the queue) or ("batcher", None, the batcher)
        self.sources: list[tuple[str, object, Comp | None]] = []
        self.feeders: list[Comp] = []  # batcher: queues it pulls from
        self.busy = 0
        self.flush_at = _INF
        self.drain_busy = False
        self.pull_mode = False
        self.consumer: Comp | None = None
        self.st = node.service_time
        self.failure_rate = node.failure_rate
        self.calls = node.calls
        self.drain_ms = 1000.0 / node.drain_rps if node.drain_rps else 0.0
        self.svc_buf: list[float] = []
        self.svc_i = 0
        self.fail_buf: list[float] = []
        self.fail_i = 0
        self.buf_limit = _INF
        self.cores = node.cores
        # calls running per replica (only with cores: placement and stretch);
        # a replica beyond ``replicas`` finishes its calls and takes no new ones
        self.active: list[int] = []
        self.apply(node)

    def apply(self, node: Node) -> None:
        self.node = node
        if self.type == "service":
            self.slots = int(node.value("replicas") * node.value("concurrency"))
            self.T = node.value("timeout_ms")
            self.retries = int(node.value("retries"))
            self.budget = self.T * (self.retries + 1) if node.sheds else _INF
            self.cost = node.value("replicas") * node.value("cost_per_replica")
            self.replicas = int(node.value("replicas"))
            self.conc = int(node.value("concurrency"))
            if self.cores is not None:
                active = self.active
                if len(active) < self.replicas:
                    active.extend([0] * (self.replicas - len(active)))
                self._trim()
        else:
            self.slots, self.T, self.retries, self.budget, self.cost = 0, _INF, 0, _INF, 0.0
        self.capacity = int(node.value("capacity")) if self.type == "queue" else 0
        if self.type == "batcher":
            self.B = int(node.value("batch_size"))
            self.F = node.value("flush_ms")
        else:
            self.B, self.F = 1, 0.0

    def place(self) -> tuple[int, float]:
        """With cores: take a slot on the least-loaded replica that has one (the
        first such on a tie); return it and the stretch of the call's attempts,
        ``max(1, a / cores)`` with ``a`` its running calls, this one included."""
        active = self.active
        best, best_a = -1, self.conc
        for r in range(self.replicas):
            a = active[r]
            if a < best_a:
                best, best_a = r, a
        if best < 0:  # every replica full (a lowered concurrency): the least loaded
            best = min(range(self.replicas), key=active.__getitem__)
            best_a = active[best]
        active[best] = best_a + 1
        assert self.cores is not None
        return best, max(1.0, (best_a + 1) / self.cores)

    def release(self, replica: int) -> None:
        """A call placed by :meth:`place` on ``replica`` has ended."""
        self.active[replica] -= 1
        self._trim()

    def _trim(self) -> None:
        active = self.active
        while len(active) > self.replicas and active[-1] == 0:
            active.pop()

    def waiting(self) -> int:
        if self.type == "queue":
            lanes = self.lane_list
            if len(lanes) == 1:
                return len(lanes[0])
            return max((len(q) for q in lanes), default=0)
        if self.type == "batcher":
            return len(self.buf)
        return sum(len(u[1]) for u in self.line)
