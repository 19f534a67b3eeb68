"""Asyncio building blocks whose size can change while they are in use.

``BoundedQueue`` is the ``orders`` queue (drops when full), ``Batcher`` forms batches
from it (full batch, or the oldest item waited ``flush_ms``), and ``ResizableLimiter``
is a semaphore whose limit follows the live ``replicas x concurrency`` parameters.
All of them are single-event-loop objects: call them from the loop that created them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

Clock = Callable[[], float]


class BoundedQueue(Generic[T]):
    """A FIFO of at most ``capacity`` items that refuses (rather than blocks) when full.

    Shrinking ``capacity`` below the current length keeps the items already queued
    (a real service would not throw accepted work away) and refuses new ones until
    the length falls under the new capacity. Times are ``clock()`` seconds.
    """

    def __init__(self, capacity: int, *, clock: Clock = time.monotonic) -> None:
        self._items: deque[tuple[float, T]] = deque()
        self._capacity = 0
        self.capacity = capacity
        self._clock = clock
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"capacity must be >= 1, got {value}")
        self._capacity = value

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> bool:
        """Append ``item``; False (and nothing queued) when the queue is full."""
        if len(self._items) >= self._capacity:
            return False
        self._items.append((self._clock(), item))
        self._wake()
        return True

    def oldest_enqueued_at(self) -> float | None:
        """``clock()`` time the oldest waiting item was queued, or None when empty."""
        return self._items[0][0] if self._items else None

    def take(self, max_items: int) -> list[T]:
        """Remove and return up to ``max_items`` items, oldest first (never waits)."""
        count = min(max_items, len(self._items))
        return [self._items.popleft()[1] for _ in range(count)]

    async def wait_change(self, timeout_s: float | None) -> bool:
        """Wait until an item is offered or ``timeout_s`` passes; True when woken by an item."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            if timeout_s is None:
                await future
                return True
            try:
                await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                return False
            return True
        finally:
            if future in self._waiters:
                self._waiters.remove(future)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


class Batcher(Generic[T]):
    """Forms batches from a ``BoundedQueue``.

    A batch leaves when it holds ``batch_size`` items or when its oldest item has
    waited ``flush_ms`` since it was queued, whichever comes first; when the oldest
    item already waited that long (the workers were busy) the batch takes whatever
    is queued, up to ``batch_size``, at once. Consumers are served one at a time, in
    arrival order, so concurrent workers never split one batch. ``batch_size`` and
    ``flush_ms`` are plain attributes: a change applies to the next wait.
    """

    def __init__(
        self,
        queue: BoundedQueue[T],
        batch_size: int,
        flush_ms: float,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.queue = queue
        self.batch_size = batch_size
        self.flush_ms = flush_ms
        self._clock = clock
        self._lock = asyncio.Lock()

    async def next_batch(self) -> list[T]:
        """Wait for and return the next batch (never empty)."""
        async with self._lock:
            while len(self.queue) == 0:
                await self.queue.wait_change(None)
            while len(self.queue) < self.batch_size:
                oldest = self.queue.oldest_enqueued_at()
                if oldest is None:  # pragma: no cover - only this consumer takes items
                    break
                remaining = oldest + self.flush_ms / 1000.0 - self._clock()
                if remaining <= 0:
                    break
                await self.queue.wait_change(remaining)
            return self.queue.take(self.batch_size)


class ResizableLimiter:
    """A FIFO semaphore whose ``limit`` can be raised or lowered at any time.

    Lowering the limit never interrupts holders; new acquirers wait until enough
    holders release. Raising it admits waiters at once.
    """

    def __init__(self, limit: int) -> None:
        self._limit = 0
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"limit must be >= 1, got {value}")
        self._limit = value
        self._admit()

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    async def acquire(self) -> None:
        if self.in_use < self._limit and not self._waiters:
            self.in_use += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed to us just before the cancellation landed.
                self.release()
            else:
                self._remove(future)
            raise

    def release(self) -> None:
        if self.in_use <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self.in_use -= 1
        self._admit()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def _remove(self, future: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(future)
        except ValueError:
            pass

    def _admit(self) -> None:
        while self._waiters and self.in_use < self._limit:
            future = self._waiters.popleft()
            if future.done():
                continue
            self.in_use += 1
            future.set_result(None)
