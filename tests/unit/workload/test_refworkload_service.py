"""The gateway -> queue -> batcher -> worker pipeline in-process, with small timings."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from refworkload.params import Params
from refworkload.service import DownstreamModel, Outcome, ParamWatcher, WorkerPool, Workload
from upir_e2e.workload import project_configmap

FAST = DownstreamModel(overhead_ms=1.0, per_item_ms=0.5, jitter_ms=0.0, failure_rate=0.0)


def sample(workload: Workload, metric: str, **labels: str) -> float:
    value = workload.metrics.registry.get_sample_value(f"refworkload_{metric}", labels)
    assert value is not None, metric
    return float(value)


async def running(params: Params, model: DownstreamModel) -> AsyncIterator[Workload]:
    workload = Workload(params, model)
    await workload.start()
    try:
        yield workload
    finally:
        await workload.stop()


@pytest.fixture
async def fast() -> AsyncIterator[Workload]:
    async for workload in running(Params(), FAST):
        yield workload


async def test_requests_succeed_and_are_counted(fast: Workload) -> None:
    outcomes = await asyncio.gather(*(fast.handle() for _ in range(20)))
    assert set(outcomes) == {Outcome.SUCCESS}
    assert sample(fast, "requests_total") == 20
    assert sample(fast, "successes_total") == 20
    assert sample(fast, "request_duration_seconds_count") == 20
    assert sample(fast, "errors_total", reason="timeout") == 0
    assert sample(fast, "param", name="orders.capacity") == 200


async def test_short_timeout_times_out_retries_and_wastes_work() -> None:
    slow = DownstreamModel(overhead_ms=40.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=0.0)
    params = Params(gateway_timeout_ms=10.0, gateway_retries=2, batcher_flush_ms=0.0)
    async for workload in running(params, slow):
        assert await workload.handle() is Outcome.TIMEOUT
        assert sample(workload, "timeouts_total") == 3
        assert sample(workload, "retries_total") == 2
        assert sample(workload, "errors_total", reason="timeout") == 1
        # The abandoned attempts are still processed by the workers.
        for _ in range(50):
            if sample(workload, "abandoned_total") == 3:
                break
            await asyncio.sleep(0.01)
        assert sample(workload, "abandoned_total") == 3


async def test_a_long_enough_timeout_succeeds_on_the_same_model() -> None:
    slow = DownstreamModel(overhead_ms=40.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=0.0)
    params = Params(gateway_timeout_ms=500.0, gateway_retries=2, batcher_flush_ms=0.0)
    async for workload in running(params, slow):
        assert await workload.handle() is Outcome.SUCCESS
        assert sample(workload, "timeouts_total") == 0


async def test_full_queue_drops_without_retrying() -> None:
    slow = DownstreamModel(overhead_ms=50.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=0.0)
    params = Params(
        orders_capacity=1,
        batcher_batch_size=1,
        batcher_flush_ms=0.0,
        worker_concurrency=1,
        worker_replicas=1,
        gateway_retries=3,
        gateway_timeout_ms=5_000.0,
    )
    async for workload in running(params, slow):
        first = asyncio.create_task(workload.handle())
        await asyncio.sleep(0.01)  # the only worker takes it; the queue is empty again
        rest = await asyncio.gather(*(workload.handle() for _ in range(5)))
        outcomes = Counter([await first, *rest])
        # One in service, one queued; the other four find the queue full.
        assert outcomes[Outcome.DROPPED] == 4
        assert outcomes[Outcome.SUCCESS] == 2
        assert sample(workload, "drops_total") == 4
        assert sample(workload, "errors_total", reason="dropped") == 4
        assert sample(workload, "retries_total") == 0


async def test_failing_downstream_is_retried_then_reported() -> None:
    broken = DownstreamModel(overhead_ms=1.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=1.0)
    async for workload in running(Params(gateway_retries=1, batcher_flush_ms=0.0), broken):
        assert await workload.handle() is Outcome.FAILURE
        assert sample(workload, "failures_total") == 2
        assert sample(workload, "retries_total") == 1
        assert sample(workload, "errors_total", reason="failure") == 1


async def test_batching_groups_concurrent_items() -> None:
    params = Params(batcher_batch_size=8, batcher_flush_ms=200.0, worker_concurrency=1)
    async for workload in running(params, FAST):
        await asyncio.gather(*(workload.handle() for _ in range(8)))
        assert sample(workload, "batch_size_count") == 1
        assert sample(workload, "batch_size_sum") == 8


async def test_apply_resizes_pool_queue_and_gateway_live(fast: Workload) -> None:
    assert fast.pool.running == 4
    fast.apply(Params(worker_concurrency=3, worker_replicas=3, orders_capacity=7))
    assert fast.pool.running == 9
    assert fast.queue.capacity == 7
    fast.apply(Params(worker_concurrency=1, worker_replicas=1, gateway_concurrency=5))
    await asyncio.sleep(0.01)  # idle surplus workers are cancelled at once
    assert fast.pool.running == 1
    assert fast.gateway.limit == 10
    assert sample(fast, "param", name="gateway.concurrency") == 5
    assert await fast.handle() is Outcome.SUCCESS


async def test_shrinking_lets_busy_workers_finish_their_batch() -> None:
    slow = DownstreamModel(overhead_ms=60.0, per_item_ms=0.0, jitter_ms=0.0, failure_rate=0.0)
    params = Params(batcher_batch_size=1, batcher_flush_ms=0.0, worker_concurrency=2)
    async for workload in running(params, slow):
        requests = [asyncio.create_task(workload.handle()) for _ in range(4)]
        await asyncio.sleep(0.02)
        workload.apply(Params(batcher_batch_size=1, batcher_flush_ms=0.0, worker_concurrency=1))
        assert set(await asyncio.gather(*requests)) == {Outcome.SUCCESS}
        assert workload.pool.running == 2  # 1 x 2 replicas


def test_service_time_is_seeded_and_follows_the_model() -> None:
    model = DownstreamModel(overhead_ms=10.0, per_item_ms=2.0, jitter_ms=3.0, seed=7)
    params: Params = Params()
    first = Workload(params, model).pool
    second = Workload(params, model).pool
    draws = [first.service_time_s(4) for _ in range(200)]
    assert draws == [second.service_time_s(4) for _ in range(200)]
    assert min(draws) >= 0.018  # overhead + 4 items, jitter >= 0
    mean_jitter_ms = (sum(draws) / len(draws) - 0.018) * 1000
    assert 2.0 < mean_jitter_ms < 4.0
    assert isinstance(first, WorkerPool)


def test_downstream_model_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        DownstreamModel(overhead_ms=-1.0)
    with pytest.raises(ValueError):
        DownstreamModel(failure_rate=1.5)


async def test_watcher_applies_changes_and_keeps_last_good_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 300, "worker.concurrency": 3})
    async for workload in running(Params(), FAST):
        watcher = ParamWatcher(mount, workload, poll_s=0.05)
        assert watcher.check()
        assert workload.params.gateway_timeout_ms == 300.0
        assert workload.pool.running == 6
        assert not watcher.check()  # nothing changed on disk
        caplog.set_level(logging.INFO, logger="refworkload")
        project_configmap(
            mount,
            {"gateway.timeout_ms": "soon", "worker.concurrency": 1, "gateway.cost_per_replica": 2},
        )
        assert watcher.check()
        assert workload.params.gateway_timeout_ms == 300.0  # bad value: last good kept
        assert workload.params.worker_concurrency == 1
        assert "gateway.cost_per_replica" in caplog.text
        assert "gateway.timeout_ms rejected" in caplog.text
        assert sample(workload, "config_reloads_total", result="applied") == 2
        assert sample(workload, "config_reloads_total", result="error") == 1


async def test_watcher_polls_and_survives_a_broken_source(tmp_path: Path) -> None:
    source = tmp_path / "params.json"
    source.write_text('{"gateway.retries": 2}')
    async for workload in running(Params(), FAST):
        watcher = ParamWatcher(source, workload, poll_s=0.05)
        watcher.start()
        try:
            assert workload.params.gateway_retries == 2
            source.write_text('{"gateway.retries": ')  # half-written
            await asyncio.sleep(0.2)
            assert workload.params.gateway_retries == 2
            assert sample(workload, "config_reloads_total", result="error") >= 1
            source.write_text('{"gateway.retries": 4}')
            for _ in range(40):
                if workload.params.gateway_retries == 4:
                    break
                await asyncio.sleep(0.05)
            assert workload.params.gateway_retries == 4
        finally:
            await watcher.stop()
