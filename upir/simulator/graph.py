"""The general discrete-event simulator: any DAG of services, queues and batchers.

Individual requests flow along the graph with the flow semantics of
docs/model.md: every connection carries the full output of its source (a
request reaching a fork goes down every branch), a component with several
inputs takes their sum, and each entry point receives ``rps`` requests/s.
A request is answered when every copy of it has left the graph (through a
component with no successor) or was given up; it succeeds when no copy failed.

- **service** (replicas R, concurrency C, timeout_ms T, retries r): R x C
  slots. An item (or a batch, behind a batcher) waits for a free slot, holds
  it for its attempts, and leaves: an attempt takes a service time ``s``
  (:class:`~upir.simulator.network.ServiceTime`); it is cut at ``T`` (a
  timeout, which fails), otherwise it fails at the failure rate; a failed
  attempt is retried on the same slot up to ``r`` times, so the slot is held
  ``sum(min(s_i, T))``, the model's ``a x E`` on average. With
  :attr:`~upir.simulator.network.Node.cores` set a call goes to the
  least-loaded replica and its attempts are stretched by CPU contention
  (``max(1, running / cores)`` on that replica, fixed at the start). A call whose
  attempts all fail is an *error*. An item fed straight from a service or an
  entry waits in the service's own line; one that has waited longer than
  ``T x (r + 1)`` (its caller's whole budget) is *shed* (unless
  :attr:`~upir.simulator.network.Node.sheds` is off).
- **queue** (capacity): a bounded FIFO in front of its consumers, which take
  items when they can (a service on a free slot, a batcher while it holds less
  than a batch); an item that finds ``capacity`` items waiting is *dropped*.
  With several consumers each gets every item (one lane each; the longest lane
  is the length). A queue with no consumer drains at its ``drain_rps``.
- **batcher** (batch_size B, flush_ms F): collects items; a batch of up to B
  leaves when B are there or the oldest has waited F. In front of exactly one
  service it leaves only when that service has a free slot (the service
  pulls, as the reference workload's workers do) and is served as one call;
  otherwise it leaves at once and its items go on one by one.

Randomness: one stream for arrivals and, per service, one for service times
and one for failures, all spawned from the seed, so a run is deterministic per
seed and runs with different parameters see the same arrivals (common random
numbers). Events are a :mod:`heapq` of completions, flushes and drains;
arrivals of a window are drawn up front with NumPy and merged in.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np

from upir.errors import FieldIssue, InvalidSpecError
from upir.simulator.arrivals import ArrivalProcess, Arrivals
from upir.simulator.graph_calls import call_answered, call_send, call_start, call_timeout
from upir.simulator.graph_metrics import (
    GraphWindow,
    SystemWindow,
    component_window,
    percentiles,
)
from upir.simulator.graph_state import Comp, Req, Stats
from upir.simulator.load import LoadProfile
from upir.simulator.network import Network, entry_points

__all__ = ["GraphSimulator"]

_INF = math.inf
_DONE, _FLUSH, _DRAIN, _SEND, _TIMEOUT = range(5)
_BUFFER = 4096
MAX_WINDOW_S = 3600.0


class GraphSimulator:
    SEND = _SEND
    TIMEOUT = _TIMEOUT

    """A :class:`Network` with its state; :meth:`run_window` advances it.

    Change parameters between windows with :meth:`set_params` (UPIR names,
    ``gateway.timeout_ms``); waiting and running work carries over.
    """

    def __init__(
        self,
        network: Network,
        profile: LoadProfile,
        *,
        arrivals: Arrivals | None = None,
        seed: int = 0,
        max_in_flight: int = 1_000_000,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidSpecError([FieldIssue("seed", "must be an integer >= 0")])
        order = network.order() or ()
        self.network = network
        self.profile = profile
        self.max_in_flight = int(max_in_flight)
        ss = np.random.SeedSequence(seed)
        children = ss.spawn(1 + 2 * len(order))
        self._arrivals = ArrivalProcess(
            arrivals or Arrivals(), profile, np.random.default_rng(children[0])
        )
        self.comps: list[Comp] = [Comp(i, network.node(n)) for i, n in enumerate(order)]
        by_name = {c.name: c for c in self.comps}
        for i, c in enumerate(self.comps):
            c.svc_rng = np.random.default_rng(children[1 + 2 * i])
            c.fail_rng = np.random.default_rng(children[2 + 2 * i])
            c.succs = [by_name[s] for s in network.successors(c.name)]
        for c in self.comps:
            preds = [by_name[p] for p in network.predecessors(c.name)]
            if c.type == "service":
                own = False
                for p in preds:
                    if p.type == "queue":
                        c.sources.append(("lane", p.lanes.setdefault(c.name, deque()), p))
                    elif p.type == "batcher" and len(p.succs) == 1:
                        p.pull_mode, p.consumer = True, c
                        c.sources.append(("batcher", None, p))
                    else:
                        own = True
                if own or not preds:
                    c.sources.insert(0, ("line", c.line, None))
            elif c.type == "batcher":
                for p in preds:
                    if p.type == "queue":
                        p.lanes.setdefault(c.name, deque())
                        c.feeders.append(p)
                if c.feeders:
                    c.buf_limit = c.B
            elif c.type == "queue" and not c.succs:
                c.lanes["(drain)"] = deque()
        for c in self.comps:
            c.lane_list = list(c.lanes.values())
        self._entries = [by_name[n] for n in entry_points(network)]
        self._by_name = by_name
        self._heap: list[tuple[float, int, int, Comp, object]] = []
        self._seq = 0
        self._now = 0.0
        self._open = 0
        self._events = 0
        self._entry_rng = np.random.default_rng(ss.spawn(1)[0])
        self._reset(0.0)

    # -- public ----------------------------------------------------------------

    @property
    def clock_s(self) -> float:
        return self._now / 1000.0

    def set_params(self, values: Mapping[str, float]) -> None:
        """Apply ``<component>.<param>`` values now (new slots take work at once)."""
        self.network = self.network.with_params(values)
        for c in self.comps:
            c.apply(self.network.node(c.name))
            if c.feeders:
                c.buf_limit = c.B
        for c in self.comps:
            if c.type == "service":
                self._pull(c)
            elif c.type == "batcher":
                self._refill(c)
                if not c.pull_mode:
                    self._push_ready(c)

    def run_window(self, window_s: float) -> GraphWindow:
        """Simulate the next ``window_s`` seconds and report them."""
        if isinstance(window_s, bool) or not isinstance(window_s, int | float):
            raise InvalidSpecError([FieldIssue("window_s", "must be a number")])
        if not (0 < window_s <= MAX_WINDOW_S and math.isfinite(window_s)):
            raise InvalidSpecError([FieldIssue("window_s", f"must be in (0, {MAX_WINDOW_S}]")])
        t0 = self._now
        t1 = t0 + float(window_s) * 1000.0
        times = (self._arrivals.draw(t0 / 1000.0, t1 / 1000.0) * 1000.0).tolist()
        self._reset(t0)
        self._run(t1, times)
        self._now = t1
        return self._report(t0, t1)

    def run(
        self,
        seconds: float,
        window_s: float,
        on_window: Callable[[GraphWindow], None] | None = None,
    ) -> list[GraphWindow]:
        """Consecutive windows covering ``seconds`` (the last may be shorter)."""
        out: list[GraphWindow] = []
        left = float(seconds)
        while left > 1e-9:
            w = self.run_window(min(window_s, left))
            left -= w.system.duration_s
            out.append(w)
            if on_window is not None:
                on_window(w)
        return out

    # -- the event loop ---------------------------------------------------------

    def _run(self, t_end: float, arrivals: list[float]) -> None:
        heap = self._heap
        entries = self._entries
        n_entries = len(entries)
        picks = (
            self._entry_rng.integers(0, n_entries, size=len(arrivals)).tolist()
            if n_entries > 1
            else None
        )
        ai, n_arr = 0, len(arrivals)
        events = 0
        while True:
            ta = arrivals[ai] if ai < n_arr else _INF
            if heap and heap[0][0] <= ta:
                t = heap[0][0]
                if t >= t_end:
                    break
                _, _, kind, comp, payload = heapq.heappop(heap)
                self._now = t
                events += 1
                if kind == _DONE:
                    self._done(comp, payload)  # type: ignore[arg-type]
                elif kind == _FLUSH:
                    if t == comp.flush_at:
                        comp.flush_at = _INF
                        if comp.pull_mode and comp.consumer is not None:
                            self._pull(comp.consumer)
                        else:
                            self._push_ready(comp)
                elif kind == _DRAIN:
                    self._drain_done(comp, payload)  # type: ignore[arg-type]
                elif kind == _SEND:
                    call_send(self, payload)  # type: ignore[arg-type]
                else:
                    call_timeout(self, payload)  # type: ignore[arg-type]
            else:
                if ta >= t_end:
                    break
                self._now = ta
                events += 1
                entry = entries[picks[ai]] if picks is not None else entries[0]
                ai += 1
                if self._open >= self.max_in_flight:
                    self._skipped += 1
                    continue
                self._open += 1
                self._sys_arrivals += 1
                self._enter(entry, Req(ta))
        self._events += events

    def _push(self, t: float, kind: int, comp: Comp, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, comp, payload))

    # -- moving items ------------------------------------------------------------

    def _enter(self, c: Comp, req: Req) -> None:
        now = self._now
        s = c.stats
        s.arrivals += 1
        if c.type == "service":
            if not c.line and c.busy < c.slots and len(c.sources) == 1:
                self._start(c, now, [req])  # a free slot and nobody ahead: no wait
                return
            c.line.append((now, [req]))
            s.move(now, s.level + 1, c.busy)
            self._pull(c)
        elif c.type == "queue":
            if c.waiting() >= c.capacity:
                s.dropped += 1
                self._fail(req, "dropped")
                return
            succs = c.succs
            if not succs:
                if c.drain_ms == 0.0:  # nothing bounds the drain: it passes through
                    s.ok += 1
                    s.lat.append(0.0)
                    self._branch_done(req)
                else:
                    c.lanes["(drain)"].append((now, req))
                    s.move(now, c.waiting(), 0)
                    self._drain_next(c)
                return
            if len(succs) > 1:
                req.open += len(succs) - 1
            for consumer in succs:
                if consumer.type == "queue":  # a queue after a queue takes everything
                    s.ok += 1
                    s.lat.append(0.0)
                    self._enter(consumer, req)
                else:
                    c.lanes[consumer.name].append((now, req))
            # consumers take what they can first: the length recorded is what waits
            for consumer in succs:
                if consumer.type == "service":
                    self._pull(consumer)
                elif consumer.type == "batcher":
                    self._refill(consumer)
            s.move(now, c.waiting(), 0)
        else:  # batcher
            c.buf.append((now, req))
            s.move(now, len(c.buf), 0)
            if c.pull_mode and c.consumer is not None:
                self._pull(c.consumer)
                if c.buf and c.flush_at == _INF:
                    self._schedule_flush(c)
            else:
                self._push_ready(c)

    def _forward(self, c: Comp, req: Req) -> None:
        succs = c.succs
        if not succs:
            self._branch_done(req)
            return
        if len(succs) > 1:
            req.open += len(succs) - 1
        for nxt in succs:
            self._enter(nxt, req)

    def _fail(self, req: Req, why: str) -> None:
        if req.fail is None:
            req.fail = why
        self._branch_done(req)

    def _branch_done(self, req: Req) -> None:
        req.open -= 1
        if req.open:
            return
        if req.call is not None:
            call_answered(self, req)
            return
        self._open -= 1
        self._sys_lat.append(self._now - req.t0)
        why = req.fail
        if why is None:
            self._sys_ok += 1
        elif why == "error":
            self._sys_err += 1
        elif why == "dropped":
            self._sys_drop += 1
        else:
            self._sys_shed += 1

    # -- services ------------------------------------------------------------------

    def _pull(self, c: Comp) -> None:
        """Give free slots of service ``c`` to the oldest ready work."""
        now = self._now
        sources = c.sources
        while c.busy < c.slots:
            best: tuple[str, object, Comp | None] | None = None
            best_t = _INF
            for src in sources:
                kind, held, owner = src
                if kind == "line":
                    self._shed_stale(c)
                    if c.line and c.line[0][0] < best_t:
                        best, best_t = src, c.line[0][0]
                elif kind == "lane":
                    lane: deque[tuple[float, Req]] = held  # type: ignore[assignment]
                    if lane and lane[0][0] < best_t:
                        best, best_t = src, lane[0][0]
                elif owner is not None and owner.buf:
                    head = owner.buf[0][0]
                    if len(owner.buf) >= owner.B or now >= head + owner.F:
                        if head < best_t:
                            best, best_t = src, head
                    elif owner.flush_at == _INF:
                        self._schedule_flush(owner)
            if best is None:
                return
            kind, held, owner = best
            if kind == "line":
                t_in, reqs = c.line.popleft()
                c.stats.move(now, c.stats.level - len(reqs), c.busy)
                self._start(c, t_in, reqs)
            elif kind == "lane" and owner is not None:
                t_in, r = held.popleft()  # type: ignore[attr-defined]
                qs = owner.stats
                qs.ok += 1
                qs.lat.append(now - t_in)
                qs.move(now, owner.waiting(), 0)
                c.stats.arrivals += 1
                self._start(c, now, [r])
            elif owner is not None:
                k = min(owner.B, len(owner.buf))
                items = [owner.buf.popleft() for _ in range(k)]
                self._batch_left(owner, items)
                c.stats.arrivals += k
                self._start(c, now, [r for _, r in items])
                self._refill(owner, notify=False)

    def _shed_stale(self, c: Comp) -> None:
        """Give up items that waited in ``c``'s line past their caller's budget."""
        line = c.line
        limit = self._now - c.budget
        while line and line[0][0] < limit:
            t_in, reqs = line.popleft()
            s = c.stats
            s.shed += len(reqs)
            s.lat.extend([c.budget] * len(reqs))
            s.move(self._now, s.level - len(reqs), c.busy)
            for r in reqs:
                self._fail(r, "shed")

    def _draw_time(self, c: Comp, items: int) -> float:
        """One attempt's service time for a call of ``items`` items, ms."""
        if c.svc_i >= len(c.svc_buf):
            c.svc_buf = c.svc_rng.random(_BUFFER).tolist()
            c.svc_i = 0
        u = c.svc_buf[c.svc_i]
        c.svc_i += 1
        dur = c.st.sample(u) + c.st.per_item_ms * items
        return dur if dur > 1e-9 else 1e-9

    def _draw_failure(self, c: Comp) -> float:
        if c.fail_i >= len(c.fail_buf):
            c.fail_buf = c.fail_rng.random(_BUFFER).tolist()
            c.fail_i = 0
        u = c.fail_buf[c.fail_i]
        c.fail_i += 1
        return u

    def _start(self, c: Comp, t_in: float, reqs: list[Req]) -> None:
        """Seize a slot: draw every attempt now (their outcome does not depend on
        anything later) and schedule the end of the call."""
        if c.calls:
            call_start(self, c, t_in, reqs)
            return
        s = c.stats
        T = c.T
        hold = 0.0
        ok = False
        p_fail = c.failure_rate
        replica, stretch = c.place() if c.cores is not None else (-1, 1.0)
        for attempt in range(c.retries + 1):
            if attempt:
                s.retries += 1
            dur = self._draw_time(c, len(reqs)) * stretch
            if dur > T:
                hold += T
                s.timeouts += 1
                continue
            hold += dur
            if p_fail > 0.0 and self._draw_failure(c) < p_fail:
                s.failures += 1
                continue
            ok = True
            break
        c.busy += 1
        s.move(self._now, s.level, c.busy)
        self._push(self._now + hold, _DONE, c, (t_in, reqs, ok, replica))

    def _done(self, c: Comp, payload: tuple[float, list[Req], bool, int]) -> None:
        t_in, reqs, ok, replica = payload
        now = self._now
        c.busy -= 1
        if replica >= 0:
            c.release(replica)
        s = c.stats
        s.move(now, s.level, c.busy)
        lat = now - t_in
        for r in reqs:
            s.lat.append(lat)
            if ok:
                s.ok += 1
                self._forward(c, r)
            else:
                s.errors += 1
                self._fail(r, "error")
        self._pull(c)

    # -- batchers ------------------------------------------------------------------

    def _refill(self, b: Comp, notify: bool = True) -> None:
        """A batcher behind queues takes items from them up to one batch;
        ``notify``: then offer a ready batch to its consumer (not when that
        consumer is already taking work: no recursion through _pull)."""
        if not b.feeders:
            return
        now = self._now
        buf = b.buf
        limit = b.buf_limit
        moved = False
        if len(b.feeders) == 1:  # the usual case: one queue in front
            q = b.feeders[0]
            lane = q.lanes[b.name]
            if lane and len(buf) < limit:
                qs = q.stats
                while lane and len(buf) < limit:
                    t_in, r = lane.popleft()
                    qs.lat.append(now - t_in)
                    buf.append((now, r))
                    qs.ok += 1
                    b.stats.arrivals += 1
                qs.move(now, q.waiting(), 0)
                moved = True
        else:
            while len(buf) < limit:
                best: Comp | None = None
                best_t = _INF
                for q in b.feeders:
                    lane = q.lanes[b.name]
                    if lane and lane[0][0] < best_t:
                        best, best_t = q, lane[0][0]
                if best is None:
                    break
                t_in, r = best.lanes[b.name].popleft()
                best.stats.ok += 1
                best.stats.lat.append(now - t_in)
                best.stats.move(now, best.waiting(), 0)
                buf.append((now, r))
                b.stats.arrivals += 1
                moved = True
        if moved:
            b.stats.move(now, len(b.buf), 0)
            if not notify:
                return
            if b.pull_mode and b.consumer is not None:
                self._pull(b.consumer)
                if b.buf and b.flush_at == _INF:
                    self._schedule_flush(b)
            else:
                self._push_ready(b)

    def _schedule_flush(self, b: Comp) -> None:
        if b.buf:
            at = b.buf[0][0] + b.F
            if at <= self._now:
                at = self._now
            b.flush_at = at
            self._push(at, _FLUSH, b, None)

    def _batch_left(self, b: Comp, items: list[tuple[float, Req]]) -> None:
        now = self._now
        s = b.stats
        s.batches += 1
        s.batch_items += len(items)
        s.ok += len(items)
        for t_in, _ in items:
            s.lat.append(now - t_in)
        s.move(now, len(b.buf), 0)
        b.flush_at = _INF

    def _push_ready(self, b: Comp) -> None:
        """A batcher not pulled by one service sends batches as they are ready."""
        now = self._now
        while b.buf and (len(b.buf) >= b.B or now >= b.buf[0][0] + b.F):
            k = min(b.B, len(b.buf))
            items = [b.buf.popleft() for _ in range(k)]
            self._batch_left(b, items)
            reqs = [r for _, r in items]
            if len(b.succs) > 1:
                for r in reqs:
                    r.open += len(b.succs) - 1
            if not b.succs:
                for r in reqs:
                    self._branch_done(r)
            for nxt in b.succs:
                if nxt.type == "service":
                    nxt.stats.arrivals += len(reqs)
                    nxt.line.append((now, reqs))
                    nxt.stats.move(now, nxt.stats.level + len(reqs), nxt.busy)
                    self._pull(nxt)
                else:
                    for r in reqs:
                        self._enter(nxt, r)
            self._refill(b, notify=False)
        if b.buf and b.flush_at == _INF:
            self._schedule_flush(b)

    # -- queues without a consumer --------------------------------------------------

    def _drain_next(self, q: Comp) -> None:
        lane = q.lanes["(drain)"]
        if q.drain_busy or not lane:
            return
        q.drain_busy = True
        t_in, r = lane.popleft()
        q.stats.move(self._now, q.waiting(), 0)
        self._push(self._now + q.drain_ms, _DRAIN, q, (t_in, r))

    def _drain_done(self, q: Comp, payload: tuple[float, Req]) -> None:
        t_in, r = payload
        q.drain_busy = False
        q.stats.ok += 1
        q.stats.lat.append(self._now - t_in)
        self._branch_done(r)
        self._drain_next(q)

    # -- reporting -----------------------------------------------------------------

    def _reset(self, t0: float) -> None:
        for c in self.comps:
            c.stats = Stats(t0, c.waiting(), c.busy)
        self._sys_lat: list[float] = []
        self._sys_arrivals = self._sys_ok = self._sys_err = self._sys_drop = 0
        self._sys_shed = self._skipped = 0
        self._events = 0

    def _report(self, t0: float, t1: float) -> GraphWindow:
        span_ms = t1 - t0
        span_s = span_ms / 1000.0
        comps = {c.name: component_window(c, t1) for c in self.comps}
        util_max = max((w.utilization for w in comps.values()), default=0.0)
        cost = sum(c.cost for c in self.comps)
        p50, p95, p99, mean = percentiles(self._sys_lat)
        answered = self._sys_ok + self._sys_err + self._sys_drop + self._sys_shed
        system = SystemWindow(
            start_s=t0 / 1000.0,
            duration_s=span_s,
            offered_rps=self._sys_arrivals / span_s,
            throughput_rps=self._sys_ok / span_s,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            mean_ms=mean,
            error_rate=(answered - self._sys_ok) / answered if answered else 0.0,
            drop_rate=(self._sys_drop + self._sys_shed) / answered if answered else 0.0,
            arrivals=self._sys_arrivals,
            completed=self._sys_ok,
            errors=self._sys_err,
            dropped=self._sys_drop,
            shed=self._sys_shed,
            skipped=self._skipped,
            in_flight=self._open,
            utilization=min(util_max, 1.0),
            cost=cost,
            events=self._events,
        )
        return GraphWindow(system, comps)
