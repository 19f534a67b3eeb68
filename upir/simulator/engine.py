"""A seeded discrete-event simulator of the reference workload.

The modelled system is the one ``examples/reference-workload`` runs for real
(same parameters, same semantics, same metrics)::

    clients --> gateway slots --attempt--> orders queue --> batcher --> workers
    (Poisson,   (concurrency x  (timeout,   (capacity)      (batch_size, (concurrency x
     max_inflight) replicas)     retries)                    flush_ms)    replicas)

- A request takes one of ``gateway_concurrency x gateway_replicas`` slots,
  waiting in line (FIFO) when all are taken, and holds it until it is answered.
  Its latency runs from arrival, so the wait in line counts.
- An attempt puts an item on the orders queue. If the queue is full the
  request is answered 503, *dropped* (not retried: retrying into a full queue
  only feeds the overload).
- Workers pull batches: one leaves as soon as a worker is free and either
  ``batcher_batch_size`` items wait or the oldest has waited
  ``batcher_flush_ms``. Its duration follows :class:`ServiceModel`; each item
  in it fails with ``failure_rate``.
- The gateway abandons an attempt that is not answered within
  ``gateway_timeout_ms`` of being queued and retries while the request has
  made no more than ``gateway_retries`` retries (read when the retry is due,
  as the real gateway does); a failed item is retried the same way. Otherwise
  the request is an *error* (504 timeout / 502 failure). An abandoned item
  stays queued or keeps its worker busy (the downstream does not know the
  caller gave up): too-short timeouts turn into retry storms.

Event handling is plain Python with :mod:`heapq` for batch completions. The
other event sources need no heap: arrivals of a window are drawn up front with
NumPy (thinning of a non-homogeneous Poisson process), timeouts are FIFO per
timeout value (deadline = queued time + a constant, so each FIFO is sorted),
and only the queue head has a flush timer. Random numbers come from three
independent streams (arrivals, service times, failures) so that runs with the
same seed and different parameters see the very same arrivals: common random
numbers make comparisons between configurations far less noisy.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from upir.errors import FieldIssue, InvalidSpecError
from upir.simulator.metrics import Totals, WindowMetrics
from upir.simulator.model import LoadProfile, ServiceModel, WorkloadParams

__all__ = ["Simulator", "simulate_window"]

_INF = math.inf
_COMPLETION, _TIMEOUT, _FLUSH, _ARRIVAL = range(4)
_BUFFER = 4096  # random numbers drawn per refill
MAX_WINDOW_S = 3600.0


class _Request:
    __slots__ = ("arrival_ms", "current", "done", "retries_used")

    def __init__(self, arrival_ms: float) -> None:
        self.arrival_ms = arrival_ms
        self.retries_used = 0
        self.current: _Attempt | None = None
        self.done = False


class _Attempt:
    __slots__ = ("req", "sent_ms")

    def __init__(self, req: _Request, sent_ms: float) -> None:
        self.req = req
        self.sent_ms = sent_ms


class Simulator:
    """The workload with its state (clock, queues, running batches, RNG streams).

    Call :meth:`run_window` repeatedly; change parameters between windows with
    :meth:`set_params` (or the ``params`` argument of :meth:`run_window`), as a
    tuner does in production: waiting, queued and running work carries over.
    """

    def __init__(
        self,
        params: WorkloadParams,
        profile: LoadProfile,
        service: ServiceModel | None = None,
        seed: int | np.random.SeedSequence = 0,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.random.SeedSequence):
            raise InvalidSpecError([FieldIssue("seed", "must be an integer or a SeedSequence")])
        if isinstance(seed, int) and seed < 0:
            raise InvalidSpecError([FieldIssue("seed", "must be >= 0")])
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        arrivals_ss, service_ss, failure_ss = ss.spawn(3)
        self.profile = profile
        self.service = service if service is not None else ServiceModel()
        self._arrival_rng = np.random.default_rng(arrivals_ss)
        self._service_rng = np.random.default_rng(service_ss)
        self._failure_rng = np.random.default_rng(failure_ss)
        self._svc_buf: list[tuple[float, float]] = []  # (overhead factor, jitter ms)
        self._svc_i = 0
        self._fail_buf: list[float] = []
        self._fail_i = 0

        self._now = 0.0  # ms
        self._line: deque[_Request] = deque()  # requests waiting for a gateway slot
        self._gw_in_use = 0
        self._open = 0  # requests sent and not answered (the clients' in-flight count)
        self._queue: deque[_Attempt] = deque()  # the orders queue
        self._timers: dict[float, deque[tuple[float, _Attempt]]] = {}
        self._running: list[tuple[float, int, int, list[_Attempt]]] = []  # heap
        self._seq = 0
        self._active: list[int] = []  # running batches per worker replica
        self._free = 0  # free worker slots on replicas that take work
        self._busy = 0  # running batches (all replicas)
        self._flush_at = _INF
        self._totals = [0, 0, 0, 0]  # arrivals, completed, errors, dropped
        self._last_t: float = 0.0  # the window's time integrals run up to here, ms
        self._busy_integral: float = 0.0  # running batches x ms
        self._queue_integral: float = 0.0  # queued items x ms
        self._reset_window(0.0)
        self._params = params
        self.set_params(params)

    # -- public API ----------------------------------------------------------

    @property
    def params(self) -> WorkloadParams:
        """The parameters in force."""
        return self._params

    @property
    def clock_s(self) -> float:
        """Simulated time elapsed since the start, s."""
        return self._now / 1000.0

    def set_params(self, params: WorkloadParams) -> None:
        """Apply new parameters now, as the reference workload applies a reload.

        Fewer workers: running batches finish, surplus workers take no new
        work. Fewer gateway slots: requests holding one keep it. A smaller
        queue refuses new items until it has drained below the new capacity.
        A new timeout or retry count applies to the next attempt.
        """
        self._params = params
        replicas, conc = params.worker_replicas, params.worker_concurrency
        if len(self._active) < replicas:
            self._active.extend([0] * (replicas - len(self._active)))
        while len(self._active) > replicas and self._active[-1] == 0:
            self._active.pop()
        self._free = sum(max(0, conc - a) for a in self._active[:replicas])
        self._timer_q = self._timers.setdefault(params.gateway_timeout_ms, deque())
        self._admit()
        self._dispatch()

    def set_profile(self, profile: LoadProfile) -> None:
        """Replace the load profile (its times stay relative to the simulator's start)."""
        self.profile = profile

    def fork(self) -> Simulator:
        """An independent copy of the whole state (for what-if evaluations)."""
        return copy.deepcopy(self)

    def run_window(
        self,
        window_s: float,
        params: WorkloadParams | None = None,
        arrivals_s: Sequence[float] | None = None,
    ) -> WindowMetrics:
        """Simulate the next ``window_s`` seconds and report their metrics.

        ``params`` are applied first (as :meth:`set_params`). ``arrivals_s``
        replays explicit arrival times (seconds since the simulator started,
        inside this window) instead of drawing them from the profile, e.g. a
        trace recorded from the real service.
        """
        if isinstance(window_s, bool) or not isinstance(window_s, int | float):
            raise InvalidSpecError([FieldIssue("window_s", "must be a number")])
        if not (0 < window_s <= MAX_WINDOW_S and math.isfinite(window_s)):
            raise InvalidSpecError([FieldIssue("window_s", f"must be in (0, {MAX_WINDOW_S}]")])
        if params is not None:
            self.set_params(params)
        t0 = self._now
        t1 = t0 + float(window_s) * 1000.0
        if arrivals_s is None:
            arrivals = self._draw_arrivals(t0 / 1000.0, t1 / 1000.0)
        else:
            arrivals = sorted(float(a) * 1000.0 for a in arrivals_s)
            if not all(math.isfinite(a) for a in arrivals) or (
                arrivals and not (t0 <= arrivals[0] and arrivals[-1] < t1)
            ):
                raise InvalidSpecError(
                    [FieldIssue("arrivals_s", f"must lie in [{t0 / 1000}, {t1 / 1000}) s")]
                )
        self._reset_window(t0)
        self._run(t1, arrivals)
        self._advance(t1)
        self._now = t1
        return self._metrics(t0, t1)

    def totals(self) -> Totals:
        """Cumulative counts; ``in_flight`` is counted from the live state."""
        arrivals, completed, errors, dropped = self._totals
        return Totals(arrivals, completed, errors, dropped, self._count_in_flight())

    # -- arrivals ------------------------------------------------------------

    def _draw_arrivals(self, t0_s: float, t1_s: float) -> list[float]:
        """Arrival times (ms, sorted) in ``[t0_s, t1_s)`` by thinning."""
        rng = self._arrival_rng
        lam_max = self.profile.max_rate(t0_s, t1_s)
        burst = self.profile.burst_mean
        if lam_max <= 0:
            return []
        n = int(rng.poisson(lam_max / burst * (t1_s - t0_s)))
        times = np.sort(rng.uniform(t0_s, t1_s, size=n))
        keep = rng.uniform(0.0, lam_max, size=n) < self.profile.rate(times)
        times = times[keep]
        if burst > 1.0:
            times = np.repeat(times, rng.geometric(1.0 / burst, size=len(times)))
        return (times * 1000.0).tolist()  # type: ignore[no-any-return]

    # -- the event loop --------------------------------------------------------

    def _run(self, t_end: float, arrivals: list[float]) -> None:
        heap = self._running
        timers = self._timers
        queue = self._queue
        line = self._line
        n_arr = len(arrivals)
        ai = 0
        max_open = self.profile.max_inflight
        # the time integrals live in locals in the hot loop (see _advance)
        last_t = self._last_t
        busy_integral = self._busy_integral
        queue_integral = self._queue_integral
        while True:
            # Next event; on a tie the order is completion, timeout, flush,
            # arrival (an answer arriving exactly at the deadline counts).
            t = arrivals[ai] if ai < n_arr else _INF
            kind = _ARRIVAL
            if self._flush_at <= t:
                t = self._flush_at
                kind = _FLUSH
            tq: deque[tuple[float, _Attempt]] | None = None
            for q in timers.values():
                # Only heads due by t matter; answered or superseded attempts
                # are dropped lazily when they reach the head.
                while q and q[0][0] <= t:
                    att = q[0][1]
                    req = att.req
                    if req.done or req.current is not att:
                        q.popleft()
                    else:
                        t = q[0][0]
                        tq = q
                        kind = _TIMEOUT
                        break
            if heap and heap[0][0] <= t:
                t = heap[0][0]
                kind = _COMPLETION
            if t >= t_end:
                break
            if t > last_t:
                busy_integral += self._busy * (t - last_t)
                queue_integral += len(queue) * (t - last_t)
                last_t = t
            self._now = t
            if kind == _COMPLETION:
                _, _, replica, batch = heapq.heappop(heap)
                self._finish_batch(replica, batch)
            elif kind == _TIMEOUT and tq is not None:
                _, att = tq.popleft()
                self._w_timeouts += 1
                req = att.req
                req.current = None
                self._retry_or_fail(req)
            elif kind == _ARRIVAL:
                ai += 1
                if self._open >= max_open:
                    self._w_skipped += 1  # the client does not send it
                else:
                    self._open += 1
                    self._w_arrivals += 1
                    req = _Request(t)
                    if self._gw_in_use < self._params.gateway_slots and not line:
                        self._gw_in_use += 1
                        self._send(req)
                    else:
                        line.append(req)
            # (a flush needs nothing but the dispatch below)
            if line and self._gw_in_use < self._params.gateway_slots:
                self._admit()
            if self._free > 0 and queue:
                self._dispatch()
            else:
                self._flush_at = _INF
        self._last_t = last_t
        self._busy_integral = busy_integral
        self._queue_integral = queue_integral
        # forget FIFOs of timeout values no longer in use once they are empty
        for key in [k for k, q in timers.items() if not q and q is not self._timer_q]:
            del timers[key]

    def _advance(self, t: float) -> None:
        """Accumulate busy-slot and queue-length time integrals up to ``t`` (ms)."""
        dt = t - self._last_t
        if dt > 0:
            self._busy_integral += self._busy * dt
            self._queue_integral += len(self._queue) * dt
            self._last_t = t

    def _admit(self) -> None:
        """Give free gateway slots to waiting requests, oldest first."""
        line = self._line
        slots = self._params.gateway_slots
        while line and self._gw_in_use < slots:
            self._gw_in_use += 1
            self._send(line.popleft())

    def _answer(self, req: _Request) -> None:
        """Bookkeeping shared by every outcome (the caller counts which one)."""
        req.done = True
        req.current = None
        self._open -= 1
        self._gw_in_use -= 1
        self._latencies.append(self._now - req.arrival_ms)

    def _send(self, req: _Request) -> None:
        if len(self._queue) >= self._params.orders_capacity:
            self._w_dropped += 1
            self._answer(req)
            return
        att = _Attempt(req, self._now)
        req.current = att
        self._queue.append(att)
        self._timer_q.append((self._now + self._params.gateway_timeout_ms, att))

    def _retry_or_fail(self, req: _Request) -> None:
        if req.retries_used < self._params.gateway_retries:
            req.retries_used += 1
            self._w_retries += 1
            self._send(req)
        else:
            self._w_errors += 1
            self._answer(req)

    def _dispatch(self) -> None:
        q = self._queue
        params = self._params
        size = params.batcher_batch_size
        flush = params.batcher_flush_ms
        while self._free > 0 and q:
            if len(q) >= size or self._now >= q[0].sent_ms + flush:
                k = min(size, len(q))
                self._start_batch([q.popleft() for _ in range(k)])
            else:
                break
        if q and self._free > 0:
            self._flush_at = q[0].sent_ms + flush
        else:
            self._flush_at = _INF

    def _start_batch(self, batch: list[_Attempt]) -> None:
        params = self._params
        conc = params.worker_concurrency
        active = self._active
        best, best_a = -1, conc  # the least-loaded replica with a free slot
        for r in range(params.worker_replicas):
            a = active[r]
            if a < best_a:
                best, best_a = r, a
        active[best] = best_a + 1
        self._free -= 1
        self._busy += 1
        svc = self.service
        if self._svc_i >= len(self._svc_buf):
            self._refill_service()
        factor, jitter = self._svc_buf[self._svc_i]
        self._svc_i += 1
        duration = svc.overhead_ms * factor + svc.per_item_ms * len(batch) + jitter
        if svc.cores is not None:
            duration *= max(1.0, (best_a + 1) / svc.cores)
        heapq.heappush(self._running, (self._now + duration, self._seq, best, batch))
        self._seq += 1
        self._w_batches += 1
        self._w_batch_items += len(batch)

    def _refill_service(self) -> None:
        svc = self.service
        rng = self._service_rng
        # Both draws always happen, whatever the model's values, so the stream's
        # position does not depend on the service parameters.
        factors = rng.lognormal(0.0, svc.sigma, size=_BUFFER)
        jitters = rng.exponential(1.0, size=_BUFFER) * svc.jitter_ms
        self._svc_buf = list(zip(factors.tolist(), jitters.tolist(), strict=True))
        self._svc_i = 0

    def _finish_batch(self, replica: int, batch: list[_Attempt]) -> None:
        before = self._active[replica]
        self._active[replica] = before - 1
        self._busy -= 1
        if replica < self._params.worker_replicas:
            conc = self._params.worker_concurrency
            self._free += max(0, conc - before + 1) - max(0, conc - before)
        p_fail = self.service.failure_rate
        for att in batch:
            req = att.req
            if req.done or req.current is not att:
                self._w_wasted += 1
                continue
            if p_fail > 0.0:
                if self._fail_i >= len(self._fail_buf):
                    self._fail_buf = self._failure_rng.random(_BUFFER).tolist()
                    self._fail_i = 0
                u = self._fail_buf[self._fail_i]
                self._fail_i += 1
                if u < p_fail:
                    self._w_failures += 1
                    req.current = None
                    self._retry_or_fail(req)
                    continue
            self._w_completed += 1
            self._answer(req)

    # -- bookkeeping -----------------------------------------------------------

    def _reset_window(self, t0: float) -> None:
        self._w_arrivals = self._w_completed = self._w_errors = self._w_dropped = 0
        self._w_retries = self._w_timeouts = self._w_failures = self._w_wasted = 0
        self._w_batches = self._w_batch_items = self._w_skipped = 0
        self._latencies: list[float] = []
        self._busy_integral = 0.0
        self._queue_integral = 0.0
        self._last_t = t0

    def _count_in_flight(self) -> int:
        """Unanswered requests found in the live structures (not from counters)."""
        live: set[int] = {id(req) for req in self._line if not req.done}
        attempts = list(self._queue)
        for *_, batch in self._running:
            attempts.extend(batch)
        for q in self._timers.values():
            attempts.extend(att for _, att in q)
        live.update(id(att.req) for att in attempts if not att.req.done)
        return len(live)

    def _metrics(self, t0: float, t1: float) -> WindowMetrics:
        span_ms = t1 - t0
        span_s = span_ms / 1000.0
        tot = self._totals
        tot[0] += self._w_arrivals
        tot[1] += self._w_completed
        tot[2] += self._w_errors
        tot[3] += self._w_dropped
        if self._latencies:
            lat = np.asarray(self._latencies)
            p50, p99 = (float(x) for x in np.percentile(lat, [50.0, 99.0]))
            mean = float(lat.mean())
        else:
            p50 = p99 = mean = math.nan
        answered = self._w_completed + self._w_errors + self._w_dropped
        params = self._params
        svc = self.service
        return WindowMetrics(
            start_s=t0 / 1000.0,
            duration_s=span_s,
            offered_rps=self._w_arrivals / span_s,
            throughput_rps=self._w_completed / span_s,
            p50_ms=p50,
            p99_ms=p99,
            mean_ms=mean,
            error_rate=(self._w_errors + self._w_dropped) / answered if answered else 0.0,
            drop_rate=self._w_dropped / answered if answered else 0.0,
            # after a scale-down, draining workers can push this above 1 briefly
            utilization=min(1.0, self._busy_integral / (params.worker_slots * span_ms)),
            mean_queue_length=self._queue_integral / span_ms,
            queue_length=len(self._queue),
            gateway_waiting=len(self._line),
            in_flight=self._open,
            cost=params.gateway_replicas * svc.gateway_cost_per_replica
            + params.worker_replicas * svc.worker_cost_per_replica,
            arrivals=self._w_arrivals,
            completed=self._w_completed,
            errors=self._w_errors,
            dropped=self._w_dropped,
            skipped=self._w_skipped,
            retries=self._w_retries,
            timeouts=self._w_timeouts,
            failures=self._w_failures,
            wasted=self._w_wasted,
            batches=self._w_batches,
            mean_batch_size=self._w_batch_items / self._w_batches if self._w_batches else 0.0,
        )


def simulate_window(
    params: WorkloadParams,
    profile: LoadProfile,
    window_s: float,
    seed: int | np.random.SeedSequence = 0,
    service: ServiceModel | None = None,
    warmup_s: float = 0.0,
) -> WindowMetrics:
    """Metrics of one window of a fresh simulator (after ``warmup_s`` discarded seconds)."""
    sim = Simulator(params, profile, service, seed)
    if warmup_s > 0:
        sim.run_window(warmup_s)
    return sim.run_window(window_s)
