"""The reference workload as a real process on 127.0.0.1, loaded by the real load generator.

Each test starts ``python -m refworkload`` through ``WorkloadProcess``, sends a
bounded open-loop load and reads ``/metrics`` as Prometheus would.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from refworkload.loadgen import run_load
from upir_e2e.procutil import http_get
from upir_e2e.workload import (
    DownstreamSettings,
    WorkloadError,
    WorkloadProcess,
    project_configmap,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

NO_FAILURES = DownstreamSettings(overhead_ms=20.0, per_item_ms=2.0, jitter_ms=1.0, failure_rate=0.0)


def scrape(workload: WorkloadProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, body = http_get(workload.metrics_url)
    assert status == 200
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(workload: WorkloadProcess, metric: str, **labels: str) -> float:
    return scrape(workload)[(metric, frozenset(labels.items()))]


async def test_short_timeout_fails_with_retries_then_a_live_fix_recovers(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    # Every batch takes >= 22 ms; a 10 ms timeout can never be met.
    project_configmap(
        mount, {"gateway.timeout_ms": 10, "gateway.retries": 2, "batcher.flush_ms": 0}
    )
    async with WorkloadProcess(mount, downstream=NO_FAILURES, poll_s=0.1) as workload:
        bad = await run_load(workload.work_url, rps=30, duration_s=2.0, seed=1, timeout_s=5.0)
        assert bad.sent > 30
        assert bad.status[504] == bad.sent  # every request timed out on all 3 attempts
        assert bad.ok == 0
        metrics = scrape(workload)
        requests = metrics[("refworkload_requests_total", frozenset())]
        assert requests == bad.sent
        assert metrics[("refworkload_timeouts_total", frozenset())] == 3 * requests
        assert metrics[("refworkload_retries_total", frozenset())] == 2 * requests
        assert metrics[("refworkload_errors_total", frozenset({("reason", "timeout")}))] == requests
        assert metrics[("refworkload_abandoned_total", frozenset())] > 0

        # Fix the timeout through the mounted ConfigMap; the process keeps running.
        pid = workload.pid
        project_configmap(
            mount, {"gateway.timeout_ms": 500, "gateway.retries": 2, "batcher.flush_ms": 0}
        )
        await asyncio.to_thread(workload.wait_for_params, {"gateway.timeout_ms": 500}, timeout_s=5)
        assert workload.pid == pid
        assert value(workload, "refworkload_param", name="gateway.timeout_ms") == 500
        timeouts_before = value(workload, "refworkload_timeouts_total")
        good = await run_load(workload.work_url, rps=30, duration_s=2.0, seed=2, timeout_s=5.0)
        assert good.ok == good.sent > 30
        assert value(workload, "refworkload_timeouts_total") == timeouts_before
        assert value(workload, "refworkload_config_reloads_total", result="applied") == 2


async def test_tiny_queue_drops_requests_with_503(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    # One worker, one item per batch: ~23 ms per item, ~45 items/s, offered 150/s.
    project_configmap(
        mount,
        {
            "orders.capacity": 2,
            "batcher.batch_size": 1,
            "batcher.flush_ms": 0,
            "worker.concurrency": 1,
            "worker.replicas": 1,
            "gateway.timeout_ms": 2000,
            "gateway.retries": 0,
        },
    )
    async with WorkloadProcess(mount, downstream=NO_FAILURES) as workload:
        result = await run_load(workload.work_url, rps=150, duration_s=2.0, seed=3, timeout_s=5.0)
        assert result.status[503] > result.sent // 3
        assert result.ok > 0
        metrics = scrape(workload)
        assert metrics[("refworkload_drops_total", frozenset())] == result.status[503]
        assert (
            metrics[("refworkload_errors_total", frozenset({("reason", "dropped")}))]
            == result.status[503]
        )
        # A roomy queue and more workers absorb the same load.
        project_configmap(
            mount,
            {
                "orders.capacity": 500,
                "batcher.batch_size": 8,
                "batcher.flush_ms": 2,
                "worker.concurrency": 4,
                "worker.replicas": 1,
                "gateway.timeout_ms": 2000,
                "gateway.retries": 0,
            },
        )
        await asyncio.to_thread(workload.wait_for_params, {"orders.capacity": 500}, timeout_s=5)
        assert value(workload, "refworkload_workers") == 4
        drops_before = value(workload, "refworkload_drops_total")
        calm = await run_load(workload.work_url, rps=150, duration_s=2.0, seed=4, timeout_s=5.0)
        assert calm.ok == calm.sent
        assert value(workload, "refworkload_drops_total") == drops_before


async def test_bad_and_unknown_keys_keep_the_service_running(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 300, "worker.concurrency": 3})
    async with WorkloadProcess(mount, downstream=NO_FAILURES, poll_s=0.1) as workload:
        assert workload.params()["worker.concurrency"] == 3
        project_configmap(
            mount,
            {"gateway.timeout_ms": "fast", "worker.concurrency": 5, "worker.cost_per_replica": 1},
        )
        current = await asyncio.to_thread(
            workload.wait_for_params, {"worker.concurrency": 5}, timeout_s=5
        )
        assert current["gateway.timeout_ms"] == 300  # the bad value kept the last good one
        assert value(workload, "refworkload_workers") == 10
        result = await run_load(workload.work_url, rps=20, duration_s=1.0, seed=5, timeout_s=5.0)
        assert result.ok == result.sent
        log = workload.log_tail()
        assert "gateway.timeout_ms rejected" in log
        assert "ignoring unknown parameter key 'worker.cost_per_replica'" in log


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 300})
    workload = WorkloadProcess(mount)
    workload.start()
    pid = workload.pid
    assert pid is not None
    workload.restart()
    assert workload.pid != pid
    assert workload.params()["gateway.timeout_ms"] == 300
    pid = workload.pid
    assert pid is not None
    workload.stop()
    assert not workload.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    workload.stop()  # idempotent


def test_missing_params_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="does not exist"):
        WorkloadProcess(tmp_path / "nope").start()
