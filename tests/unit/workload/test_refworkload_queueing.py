"""Queue, batcher and limiter semantics at the asyncio level, with small timings.

Where a test shows that something does *not* wait (a full batch, a batch
completed by arrivals), the flush is 10 minutes and the wait is bounded at
``NO_WAIT_S``: far apart, so a loaded machine cannot fail the test by chance."""

from __future__ import annotations

import asyncio
import time

import pytest
from refworkload.queueing import Batcher, BoundedQueue, ResizableLimiter

FLUSH_NEVER_MS = 600_000
NO_WAIT_S = 30.0


def test_queue_refuses_when_full_and_keeps_items_when_shrunk() -> None:
    queue: BoundedQueue[int] = BoundedQueue(2)
    assert queue.offer(1) and queue.offer(2)
    assert not queue.offer(3)
    assert len(queue) == 2
    queue.capacity = 1
    assert len(queue) == 2  # accepted work is kept
    assert not queue.offer(4)
    assert queue.take(1) == [1]
    assert not queue.offer(5)  # still at the new capacity
    assert queue.take(5) == [2]
    assert queue.offer(6)
    queue.capacity = 3
    assert queue.offer(7) and queue.offer(8)
    assert queue.take(10) == [6, 7, 8]
    with pytest.raises(ValueError):
        queue.capacity = 0


def test_queue_records_enqueue_time() -> None:
    now = [100.0]
    queue: BoundedQueue[str] = BoundedQueue(5, clock=lambda: now[0])
    assert queue.oldest_enqueued_at() is None
    queue.offer("a")
    now[0] = 101.0
    queue.offer("b")
    assert queue.oldest_enqueued_at() == 100.0
    queue.take(1)
    assert queue.oldest_enqueued_at() == 101.0


async def test_full_batch_leaves_without_waiting_for_flush() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=3, flush_ms=FLUSH_NEVER_MS)
    for i in range(5):
        queue.offer(i)
    assert await asyncio.wait_for(batcher.next_batch(), NO_WAIT_S) == [0, 1, 2]
    assert len(queue) == 2


async def test_partial_batch_leaves_after_flush_ms() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=10, flush_ms=60)
    queue.offer(1)
    started = time.monotonic()
    batch = await batcher.next_batch()
    waited = time.monotonic() - started
    assert batch == [1]
    assert 0.05 <= waited < 5.0  # waits the flush, not e.g. 60 s (ms read as s)


async def test_items_arriving_during_the_flush_wait_join_the_batch() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=3, flush_ms=FLUSH_NEVER_MS)

    async def feed() -> None:
        for i in range(3):
            queue.offer(i)
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(feed())
    # Completed by the third arrival, long before flush_ms.
    assert await asyncio.wait_for(batcher.next_batch(), NO_WAIT_S) == [0, 1, 2]
    await feeder


async def test_stale_items_leave_at_once_up_to_batch_size() -> None:
    now = [0.0]
    queue: BoundedQueue[int] = BoundedQueue(100, clock=lambda: now[0])
    batcher = Batcher(queue, batch_size=4, flush_ms=10, clock=lambda: now[0])
    queue.offer(1)
    queue.offer(2)
    now[0] = 1.0  # the oldest item waited 1 s >> 10 ms (the workers were busy)
    assert await asyncio.wait_for(batcher.next_batch(), NO_WAIT_S) == [1, 2]


async def test_next_batch_waits_for_the_first_item() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=1, flush_ms=0)
    pending = asyncio.create_task(batcher.next_batch())
    await asyncio.sleep(0.02)
    assert not pending.done()
    queue.offer(42)
    assert await asyncio.wait_for(pending, NO_WAIT_S) == [42]


async def test_batch_size_change_applies_to_the_next_batch() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=2, flush_ms=1_000)
    for i in range(6):
        queue.offer(i)
    assert await batcher.next_batch() == [0, 1]
    batcher.batch_size = 4
    assert await batcher.next_batch() == [2, 3, 4, 5]


async def test_cancelled_consumer_takes_nothing() -> None:
    queue: BoundedQueue[int] = BoundedQueue(100)
    batcher = Batcher(queue, batch_size=5, flush_ms=FLUSH_NEVER_MS)
    queue.offer(1)
    waiting = asyncio.create_task(batcher.next_batch())
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(queue) == 1
    batcher.batch_size = 1
    assert await asyncio.wait_for(batcher.next_batch(), NO_WAIT_S) == [1]


async def test_limiter_admits_up_to_limit_in_fifo_order() -> None:
    limiter = ResizableLimiter(2)
    await limiter.acquire()
    await limiter.acquire()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert limiter.in_use == 2 and limiter.waiting == 3
    limiter.release()
    await asyncio.sleep(0.01)
    assert order == [0]
    limiter.limit = 4  # raising the limit admits waiters at once
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert limiter.in_use == 4


async def test_limiter_lowering_never_interrupts_holders() -> None:
    limiter = ResizableLimiter(3)
    for _ in range(3):
        await limiter.acquire()
    limiter.limit = 1
    assert limiter.in_use == 3
    late = asyncio.create_task(limiter.acquire())
    limiter.release()
    limiter.release()
    await asyncio.sleep(0.01)
    assert not late.done()  # 1 holder left, limit 1: still full
    limiter.release()
    await asyncio.wait_for(late, NO_WAIT_S)
    assert limiter.in_use == 1
    with pytest.raises(ValueError):
        limiter.limit = 0


async def test_limiter_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = ResizableLimiter(1)
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    limiter.release()
    assert limiter.in_use == 0
    async with limiter.slot():
        assert limiter.in_use == 1
    assert limiter.in_use == 0
    with pytest.raises(RuntimeError):
        limiter.release()
