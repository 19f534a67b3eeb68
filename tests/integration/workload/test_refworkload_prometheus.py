"""A real Prometheus server scrapes the real workload; the UPIR's PromQL answers numbers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import yaml
from refworkload.loadgen import run_load
from upir_e2e.prometheus import PrometheusError, PrometheusServer, ensure_prometheus_installed
from upir_e2e.workload import DownstreamSettings, WorkloadProcess, project_configmap

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

UPIR_FILE = (
    Path(__file__).resolve().parents[3] / "examples" / "reference-workload" / "k8s" / "upir.yaml"
)
P99_MS = (
    "histogram_quantile(0.99, sum(rate(refworkload_request_duration_seconds_bucket[30s]))"
    " by (le)) * 1000"
)


def upir_queries() -> dict[str, str]:
    doc = yaml.safe_load(UPIR_FILE.read_text())
    queries = doc["spec"]["tuning"]["prometheus"]["queries"]
    assert set(queries) == {"latency_ms", "throughput_rps", "error_rate"}
    return {str(k): str(v) for k, v in queries.items()}


async def test_prometheus_scrapes_the_workload_and_answers_the_upir_queries(
    tmp_path: Path,
) -> None:
    binary = ensure_prometheus_installed()
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 500, "batcher.batch_size": 4})
    downstream = DownstreamSettings(overhead_ms=10.0, per_item_ms=2.0, jitter_ms=2.0, seed=7)
    async with (
        WorkloadProcess(mount, downstream=downstream) as workload,
        PrometheusServer([workload.target], scrape_interval_s=0.5, binary=binary) as prom,
    ):
        # Before any traffic the quantile has no data: None, not NaN.
        await asyncio.to_thread(prom.wait_for_targets_up, timeout_s=20)
        assert prom.target_health() == {workload.target: "up"}
        assert await prom.aquery(P99_MS) is None
        result = await run_load(workload.work_url, rps=80, duration_s=3.0, seed=11, timeout_s=5.0)
        assert result.ok == result.sent > 150
        # Two more scrapes so the last requests are in the TSDB.
        await asyncio.sleep(1.2)
        p99 = await prom.aquery(P99_MS)
        assert p99 is not None
        client_p99 = result.percentile_ms(0.99)
        assert client_p99 is not None
        # Server-side (bucket-interpolated) and client-side p99 of the same requests.
        assert 0.5 * client_p99 <= p99 <= 1.5 * client_p99, (p99, client_p99)

        values = {name: await prom.aquery(q) for name, q in upir_queries().items()}
        assert values["latency_ms"] is not None and 1.0 < values["latency_ms"] < 10_000
        assert values["throughput_rps"] is not None and values["throughput_rps"] > 0
        assert values["error_rate"] == 0.0
        requests = await prom.aquery("refworkload_requests_total")
        assert requests == result.sent
        param = await prom.aquery('refworkload_param{name="batcher.batch_size"}')
        assert param == 4.0

        with pytest.raises(PrometheusError, match="series"):
            await prom.aquery("refworkload_param")  # nine series, not one
        with pytest.raises(PrometheusError, match="bad_data|parse"):
            await prom.aquery("sum(rate(")

        pid, workdir = prom.pid, prom.workdir
        assert workdir is not None and (workdir / "data").is_dir()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not workdir.exists()  # the TSDB directory is gone


def test_reload_switches_targets(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 300})
    with WorkloadProcess(mount) as workload, PrometheusServer([]) as prom:
        assert prom.target_health() == {}
        prom.set_targets([workload.target])
        assert prom.config()["scrape_configs"][0]["static_configs"] == [
            {"targets": [workload.target]}
        ]
        prom.wait_for_targets_up(timeout_s=20)
        value = prom.wait_for_value(
            'refworkload_param{name="gateway.timeout_ms"}', timeout_s=10, predicate=lambda v: v > 0
        )
        assert value == 300.0
