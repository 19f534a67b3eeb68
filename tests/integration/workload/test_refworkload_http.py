"""The workload's HTTP server in the test's own event loop, driven by the load generator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from refworkload.app import RunningServer, start_server
from refworkload.loadgen import run_load
from refworkload.params import Params
from refworkload.service import DownstreamModel
from upir_e2e.workload import project_configmap

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

QUICK = DownstreamModel(overhead_ms=2.0, per_item_ms=1.0, jitter_ms=1.0, failure_rate=0.0, seed=3)


async def serve(params: Params, model: DownstreamModel = QUICK) -> AsyncIterator[RunningServer]:
    server = await start_server(params=params, model=model)
    try:
        yield server
    finally:
        await server.aclose()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_endpoints_answer() -> None:
    async for server in serve(Params(gateway_timeout_ms=250.0)):
        assert await get(f"{server.url}/healthz") == (200, "ok")
        assert await get(f"{server.url}/work") == (200, "success")
        status, body = await get(f"{server.url}/params")
        assert status == 200 and '"gateway.timeout_ms": 250.0' in body
        status, body = await get(f"{server.url}/metrics")
        assert status == 200
        assert "refworkload_requests_total 1.0" in body
        assert 'refworkload_request_duration_seconds_bucket{le="0.001"}' in body
        assert 'refworkload_request_duration_seconds_bucket{le="10.0"}' in body


@pytest.mark.parametrize(
    ("params", "model", "status"),
    [
        (Params(), DownstreamModel(overhead_ms=1.0, jitter_ms=0.0, failure_rate=1.0), 502),
        (Params(gateway_timeout_ms=5.0, gateway_retries=0), DownstreamModel(overhead_ms=50.0), 504),
    ],
)
async def test_outcomes_map_to_status_codes(
    params: Params, model: DownstreamModel, status: int
) -> None:
    async for server in serve(params, model):
        assert (await get(f"{server.url}/work"))[0] == status


async def test_shift_profile_against_the_live_server(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"batcher.flush_ms": 1, "worker.concurrency": 4})
    server = await start_server(params_path=mount, model=QUICK, poll_s=0.05)
    try:
        assert server.workload.params.worker_concurrency == 4
        result = await run_load(
            f"{server.url}/work", profile="shift", rps=40, factor=3, duration_s=1.5, seed=9
        )
        assert result.ok == result.sent
        # 40/s then 120/s over 0.75 s each: ~120 requests expected.
        assert 80 < result.sent < 170
        requests = server.workload.metrics.registry.get_sample_value("refworkload_requests_total")
        assert requests == result.sent
        project_configmap(mount, {"batcher.flush_ms": 1, "worker.concurrency": 1})
        for _ in range(40):
            if server.workload.params.worker_concurrency == 1:
                break
            await asyncio.sleep(0.05)
        assert server.workload.params.worker_concurrency == 1
    finally:
        await server.aclose()


async def test_run_load_stops_early_on_the_stop_event() -> None:
    async for server in serve(Params()):
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)
        result = await run_load(
            f"{server.url}/work", rps=50, duration_s=30.0, seed=1, stop=stop, method="GET"
        )
        assert result.elapsed_s < 5.0
        assert 0 < result.sent < 60
        assert result.ok == result.sent
