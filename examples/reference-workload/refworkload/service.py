"""The workload itself: gateway -> orders queue -> batcher -> worker pool.

A request enters the gateway, takes one of ``gateway.concurrency x gateway.replicas``
slots (waiting in line when all are taken), and calls the downstream stage: it puts an
item on the ``orders`` queue (``orders.capacity``; a full queue drops the request with
503) and waits at most ``gateway.timeout_ms`` for it. A timed-out or failed attempt is
retried up to ``gateway.retries`` times. A timed-out attempt is *abandoned*, not
withdrawn: its item stays queued and a worker still spends time on it, as a real
downstream would, so short timeouts with retries amplify load.

The batcher groups queued items (``batcher.batch_size``, ``batcher.flush_ms``) and
``worker.concurrency x worker.replicas`` workers process batches. A batch takes
``overhead_ms + per_item_ms x items + jitter`` (jitter exponential with mean
``jitter_ms``, from a seeded generator) and each item fails with probability
``failure_rate``. Replicas are simulated in-process: one process holds the slots of
all of them, which keeps the queueing behaviour of N replicas without N processes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from refworkload.metrics import Metrics
from refworkload.params import (
    RULES,
    RULES_BY_KEY,
    MergeResult,
    Params,
    ParamSourceError,
    fingerprint,
    merge,
    read_source,
)
from refworkload.queueing import Batcher, BoundedQueue, ResizableLimiter

log = logging.getLogger("refworkload")


@dataclass(frozen=True, slots=True)
class DownstreamModel:
    """Service-time and failure model of the worker stage (ms, probability)."""

    overhead_ms: float = 20.0
    per_item_ms: float = 5.0
    jitter_ms: float = 5.0
    failure_rate: float = 0.001
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.overhead_ms, self.per_item_ms, self.jitter_ms) < 0:
            raise ValueError("service times must be >= 0 ms")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be within [0, 1]")


class Outcome(Enum):
    """A request's final outcome and the HTTP status the gateway answers with."""

    SUCCESS = 200
    FAILURE = 502
    DROPPED = 503
    TIMEOUT = 504

    @property
    def reason(self) -> str:
        return self.name.lower()


class DownstreamFailure(Exception):
    """A worker failed an item."""


@dataclass(eq=False, slots=True)
class WorkItem:
    """One downstream attempt; the gateway awaits ``future``."""

    future: asyncio.Future[None]


class WorkerPool:
    """``size`` worker tasks taking batches from a ``Batcher``; resizable while running.

    Shrinking cancels idle surplus workers at once and lets busy ones finish their
    batch first, so accepted work is never lost by a resize.
    """

    def __init__(
        self, batcher: Batcher[WorkItem], model: DownstreamModel, metrics: Metrics
    ) -> None:
        self._batcher = batcher
        self._model = model
        self._metrics = metrics
        self._rng = random.Random(model.seed)
        self._size = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._busy: set[int] = set()

    @property
    def size(self) -> int:
        return self._size

    @property
    def running(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())

    def resize(self, size: int) -> None:
        self._size = size
        for index in range(size):
            task = self._tasks.get(index)
            if task is None or task.done():
                self._tasks[index] = asyncio.get_running_loop().create_task(
                    self._run(index), name=f"refworkload-worker-{index}"
                )
        for index, task in list(self._tasks.items()):
            if index >= size and index not in self._busy and not task.done():
                task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def service_time_s(self, items: int) -> float:
        """Seconds one batch of ``items`` takes (draws the jitter)."""
        model = self._model
        jitter = self._rng.expovariate(1.0 / model.jitter_ms) if model.jitter_ms > 0 else 0.0
        return (model.overhead_ms + model.per_item_ms * items + jitter) / 1000.0

    async def _run(self, index: int) -> None:
        while index < self._size:
            batch = await self._batcher.next_batch()
            self._busy.add(index)
            try:
                await self._process(batch)
            finally:
                self._busy.discard(index)

    async def _process(self, batch: list[WorkItem]) -> None:
        self._metrics.batch_size.observe(len(batch))
        await asyncio.sleep(self.service_time_s(len(batch)))
        for item in batch:
            if item.future.done():
                # The gateway gave up on this attempt; the work was done anyway.
                self._metrics.abandoned.inc()
            elif self._rng.random() < self._model.failure_rate:
                self._metrics.failures.inc()
                item.future.set_exception(DownstreamFailure())
            else:
                item.future.set_result(None)


class Workload:
    """The whole pipeline with live-applicable parameters."""

    def __init__(
        self,
        params: Params,
        model: DownstreamModel,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics if metrics is not None else Metrics()
        self.model = model
        self._params = params
        self.queue: BoundedQueue[WorkItem] = BoundedQueue(params.orders_capacity)
        self.batcher = Batcher(self.queue, params.batcher_batch_size, params.batcher_flush_ms)
        self.gateway = ResizableLimiter(params.gateway_slots)
        self.pool = WorkerPool(self.batcher, model, self.metrics)
        self._started = False
        m = self.metrics
        m.queue_length.set_function(lambda: len(self.queue))
        m.inflight.set_function(lambda: self.gateway.in_use)
        m.waiting.set_function(lambda: self.gateway.waiting)
        m.workers.set_function(lambda: self.pool.running)
        self._publish_params()

    @property
    def params(self) -> Params:
        return self._params

    async def start(self) -> None:
        """Start the worker tasks (call from the serving event loop)."""
        self.pool.resize(self._params.worker_slots)
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.pool.stop()

    def apply(self, params: Params) -> None:
        """Switch to ``params`` now: resizes the queue, gateway slots and worker pool.

        Requests in flight keep their slot and their current attempt; the next
        attempt of a request reads the new timeout and retry count.
        """
        self._params = params
        self.queue.capacity = params.orders_capacity
        self.batcher.batch_size = params.batcher_batch_size
        self.batcher.flush_ms = params.batcher_flush_ms
        self.gateway.limit = params.gateway_slots
        if self._started:
            self.pool.resize(params.worker_slots)
        self._publish_params()

    def _publish_params(self) -> None:
        for rule in RULES:
            self.metrics.param.labels(name=rule.key).set(getattr(self._params, rule.attr))

    async def handle(self) -> Outcome:
        """Serve one gateway request end to end and record its metrics."""
        m = self.metrics
        m.requests.inc()
        started = time.monotonic()
        try:
            async with self.gateway.slot():
                outcome = await self._call_downstream()
        finally:
            m.latency.observe(time.monotonic() - started)
        if outcome is Outcome.SUCCESS:
            m.successes.inc()
        else:
            m.errors.labels(reason=outcome.reason).inc()
        return outcome

    async def _call_downstream(self) -> Outcome:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            params = self._params
            future: asyncio.Future[None] = loop.create_future()
            if not self.queue.offer(WorkItem(future)):
                # Not retried: retrying into a full queue only adds load.
                self.metrics.drops.inc()
                return Outcome.DROPPED
            try:
                # wait_for cancels the future on timeout; the item stays queued and
                # the worker still processes it (abandoned work).
                await asyncio.wait_for(future, params.gateway_timeout_ms / 1000.0)
                return Outcome.SUCCESS
            except TimeoutError:
                self.metrics.timeouts.inc()
                last = Outcome.TIMEOUT
            except DownstreamFailure:
                last = Outcome.FAILURE
            if attempt >= params.gateway_retries:
                return last
            attempt += 1
            self.metrics.retries.inc()


class ParamWatcher:
    """Polls a parameter source and applies changes to a ``Workload`` live.

    Reads only when the source's ``fingerprint`` changed, so polling every half
    second costs a few ``stat`` calls. Problems are logged and counted in
    ``refworkload_config_reloads_total{result="error"}``; the workload keeps running
    on its last good parameters.
    """

    def __init__(self, path: Path, workload: Workload, *, poll_s: float = 0.5) -> None:
        self.path = path
        self.workload = workload
        self.poll_s = poll_s
        self._last: tuple[object, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def check(self) -> bool:
        """Apply the source if it changed since the last check; True when params changed."""
        current = fingerprint(self.path)
        if current == self._last:
            return False
        self._last = current
        reloads = self.workload.metrics.reloads
        try:
            raw = read_source(self.path)
        except ParamSourceError as exc:
            log.warning("parameters not reloaded, keeping the last good ones: %s", exc)
            reloads.labels(result="error").inc()
            return False
        result = merge(self.workload.params, raw)
        for key in result.unknown:
            log.info("ignoring unknown parameter key %r", key)
        for key, reason in result.rejected.items():
            log.warning("parameter %s rejected, keeping %s: %s", key, _current(result, key), reason)
        if result.rejected:
            reloads.labels(result="error").inc()
        if not result.changed:
            if not result.rejected:
                reloads.labels(result="unchanged").inc()
            return False
        self.workload.apply(result.params)
        reloads.labels(result="applied").inc()
        log.info(
            "parameters applied: %s",
            ", ".join(f"{k}={v:g}" for k, v in sorted(result.applied.items())),
        )
        return True

    def start(self) -> None:
        self.check()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="param-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                self.check()
            except Exception:  # keep polling: one bad read must not stop reloads for good
                log.exception("unexpected error while reloading parameters")


def _current(result: MergeResult, key: str) -> str:
    return f"{getattr(result.params, RULES_BY_KEY[key].attr):g}"
