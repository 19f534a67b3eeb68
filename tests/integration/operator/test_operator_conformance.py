"""Live conformance (issue 21, DESIGN.md section 8) with the real operator
process, the emulated API, kubectl and a real Prometheus server scraping a small
exporter whose gauges the test moves: an arrival rate beyond the assumed bound
flips ``Conformant`` to False (AssumptionViolated) and holds tuning, then back;
a latency above the proved bound gives BoundExceeded; queries that return
nothing give NoData; mode Off gets the condition too and nothing is written."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from upir_e2e.exporter import GaugeExporter
from upir_e2e.procutil import free_port
from upir_e2e.prometheus import PrometheusServer, ensure_prometheus_installed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

WINDOWS = 2
INTERVAL_S = 5


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


@pytest.fixture
def prometheus() -> Iterator[tuple[GaugeExporter, PrometheusServer]]:
    binary = ensure_prometheus_installed()
    with GaugeExporter({"upir_test_arrivals": 500.0, "upir_test_p99_ms": 100.0}) as exporter:
        with PrometheusServer([exporter.target], scrape_interval_s=0.2, binary=binary) as prom:
            prom.wait_for_targets_up(timeout_s=20)
            yield exporter, prom


def _doc(gateway_doc: Any, name: str, mode: str, url: str) -> dict[str, Any]:
    doc: dict[str, Any] = gateway_doc(name, 300, 2, mode=mode)
    # 2 x 32 slots at 40 ms serve 1,600 req/s, twice the assumed peak: under model 2 a
    # saturated gateway has no finite latency bound, and the bound must be proved here
    doc["spec"]["architecture"]["components"][0]["params"]["concurrency"] = 32
    doc["spec"]["specification"]["assumptions"] = [
        "env.arrival_rps <= 800",
        "5 <= env.gateway_service_ms <= 40",
        "env.gateway_failure_rate <= 0.01",
    ]
    doc["spec"]["specification"]["constraints"] = {"latency_ms": {"max": 500}}
    doc["spec"]["tuning"].update(
        intervalSeconds=INTERVAL_S,
        prometheus={
            "url": url,
            "queries": {
                "latency_ms": "upir_test_p99_ms",
                "throughput_rps": "upir_test_arrivals",
                "error_rate": "vector(0)",
            },
            "environment": {"arrival_rps": "upir_test_arrivals"},
        },
    )
    return doc


def _events(cluster: Any, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    return [
        (e["type"], e["reason"], e.get("message", ""))
        for e in items
        if e["involvedObject"]["name"] == name
    ]


def test_conformance_follows_what_prometheus_sees(
    cluster: Any,
    namespace: str,
    operator_factory: Any,
    gateway_doc: Any,
    prometheus: tuple[GaugeExporter, PrometheusServer],
) -> None:
    exporter, prom = prometheus
    ns = namespace
    metrics_port = free_port()
    operator_factory(UPIR_CONFORMANCE_WINDOWS=str(WINDOWS), UPIR_METRICS_PORT=str(metrics_port))
    for name, mode in (("tuned", "Recommend"), ("off", "Off")):
        doc = _doc(gateway_doc, name, mode, prom.url)
        cluster.kubectl("apply", "--validate=false", "-n", ns, "-f", "-", input=yaml.safe_dump(doc))

    def conformant(name: str, status: str, reason: str, timeout: float = 60) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            c = cond(cluster.get("upir", name, ns), "Conformant")
            return c if (c.get("status"), c.get("reason")) == (status, reason) else None

        found: dict[str, Any] = cluster.wait_for(f"{name} {reason}", check, timeout=timeout)
        return found

    def tuning_message(contains: str, absent: bool = False) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            c = cond(cluster.get("upir", "tuned", ns), "Tuning")
            has = contains in c.get("message", "")
            return c if c and has != absent else None

        found: dict[str, Any] = cluster.wait_for(
            f"Tuning {'without' if absent else 'with'} {contains}", check, timeout=60
        )
        return found

    # the observations lie inside what was proved
    c = conformant("tuned", "True", "Conformant", timeout=120)
    assert "env.arrival_rps=500" in c["message"] and "latency_ms=100" in c["message"]
    assert conformant("off", "True", "Conformant")
    columns = cluster.kubectl("get", "up", "tuned", "-n", ns).splitlines()
    assert columns[0].split()[3] == "CONFORMANT" and columns[1].split()[3] == "True"
    tuning_message("NotConformant", absent=True)

    # the arrival rate crosses env.arrival_rps <= 800: False after WINDOWS windows
    exporter.values["upir_test_arrivals"] = 950.0
    c = conformant("tuned", "False", "AssumptionViolated")
    assert c["message"] == (
        "assumption 'env.arrival_rps <= 800' does not hold: observed env.arrival_rps=950"
    )
    conformant("off", "False", "AssumptionViolated")
    held = tuning_message("NotConformant: AssumptionViolated")
    assert held["reason"] == "Hold" and held["status"] == "False"
    assert ("Warning", "AssumptionViolated", c["message"]) in _events(cluster, ns, "tuned")
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    lines = text.decode().splitlines()
    assert f'upir_conformant{{namespace="{ns}",upir="tuned"}} 0.0' in lines
    assert (
        f'upir_conformance_observed{{name="env.arrival_rps",namespace="{ns}",upir="tuned"}} 950.0'
        in lines
    )
    assert (
        f'upir_conformance_bound{{name="env.arrival_rps",namespace="{ns}",side="max",'
        f'upir="tuned"}} 800.0' in lines
    )

    # back inside the assumption: True again, a Normal event, tuning resumes
    exporter.values["upir_test_arrivals"] = 500.0
    conformant("tuned", "True", "Conformant")
    assert any(e[:2] == ("Normal", "Conformant") for e in _events(cluster, ns, "tuned"))
    tuning_message("NotConformant", absent=True)

    # a latency above the proved system.latency_ms <= 500
    exporter.values["upir_test_p99_ms"] = 700.0
    c = conformant("tuned", "False", "BoundExceeded")
    assert c["message"] == (
        "proved bound 'system.latency_ms <= 500' (constraint.latency_ms) exceeded: "
        "observed latency_ms=700"
    )
    tuning_message("NotConformant: BoundExceeded")

    # the series go away: the queries return nothing
    exporter.values.update(upir_test_arrivals=None, upir_test_p99_ms=None)
    c = conformant("tuned", "Unknown", "NoData")
    assert c["message"].startswith("the queries returned nothing (env.arrival_rps: no sample")
    assert ("Warning", "NoData", c["message"]) in _events(cluster, ns, "tuned")

    # mode Off wrote nothing the workload reads, and never tuned
    off = cluster.get("upir", "off", ns)
    assert "appliedParameters" not in off["status"]
    assert cond(off, "Tuning") == {}
