"""``upir calibrate`` through the real entry point: observed values from a file
and from a real Prometheus server (which scrapes a small exporter of this test
whose load crosses the assumed bound)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_e2e.exporter import GaugeExporter
from upir_e2e.prometheus import PrometheusServer, ensure_prometheus_installed
from upir_e2e.stack import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[3]
UPIR_BIN = Path(sys.executable).with_name("upir")


def upir(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UPIR_BIN), *args], capture_output=True, text=True, timeout=60, input=stdin, cwd=ROOT
    )


def _doc(environment: dict[str, str] | None = None, url: str = "http://127.0.0.1:9") -> str:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    prom = doc["spec"]["tuning"]["prometheus"]
    prom["url"] = url
    if environment is None:
        prom.pop("environment", None)
    else:
        prom["environment"] = environment
    return yaml.safe_dump(doc)


def test_observations_from_a_file(tmp_path: Path) -> None:
    metrics = tmp_path / "m.yaml"
    metrics.write_text(yaml.safe_dump({"arrival_rps": [500, 820], "gateway_service_ms": [10, 20]}))
    broken = upir("calibrate", "examples/api-service.yaml", "--metrics", str(metrics))
    assert broken.returncode == 1, broken.stderr
    assert "BROKEN     'env.arrival_rps <= 800': broken at 1 of 2 instants" in broken.stdout
    patch = yaml.safe_load(broken.stdout.split("--patch-file PATCH\n", 1)[1])
    assert patch["spec"]["specification"]["assumptions"][0] == "env.arrival_rps <= 910"
    metrics.write_text(json.dumps({"env.arrival_rps": [[0, "500"], [15, "700"]]}))
    covered = upir("calibrate", "-", "--metrics", str(metrics), "-o", "json", stdin=_doc())
    assert covered.returncode == 0, covered.stderr
    result = json.loads(covered.stdout)
    assert result["covered"] is True
    assert result["environment"] == [
        {"name": "env.arrival_rps", "samples": 2, "min": 500, "p99": 700, "max": 700}
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metrics", "{metrics}", "--margin", "-1"], "--margin: not a non-negative number"),
        (
            ["--prometheus", "http://127.0.0.1:9"],
            "spec.tuning.prometheus.environment: no environment",
        ),
        (
            ["--metrics", "{bad}"],
            "--metrics: metrics.cpu: the spec uses no environment name env.cpu",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "m.yaml").write_text("arrival_rps: [1]\n")
    (tmp_path / "bad.yaml").write_text("cpu: [1]\n")
    filled = [a.format(metrics=tmp_path / "m.yaml", bad=tmp_path / "bad.yaml") for a in args]
    done = upir("calibrate", "examples/api-service.yaml", *filled)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def exporter() -> Iterator[GaugeExporter]:
    with GaugeExporter({"upir_test_calm": 500.0, "upir_test_load": 500.0}) as found:
        yield found


def test_against_a_real_prometheus(exporter: GaugeExporter) -> None:
    binary = ensure_prometheus_installed()
    with PrometheusServer([exporter.target], scrape_interval_s=0.2, binary=binary) as prom:
        prom.wait_for_targets_up(timeout_s=20)

        def stored(promql: str) -> bool:
            value = prom.query(promql)
            return bool(value)

        # a few samples at the calm load, then the load crosses the assumed bound
        wait_for("calm samples", lambda: stored("count_over_time(upir_test_load[1m]) >= 3"), 30)
        exporter.values["upir_test_load"] = 950.0  # beyond env.arrival_rps <= 800
        # stored: the range query ends now, and its last step sees this sample
        wait_for("the higher load scraped", lambda: stored("upir_test_load == 950"), 30)
        calm = upir(
            "calibrate",
            "-",
            "--prometheus",
            prom.url,
            "--range",
            "1m",
            "--step",
            "1s",
            stdin=_doc({"arrival_rps": "upir_test_calm"}, prom.url),
        )
        assert calm.returncode == 0, calm.stderr + calm.stdout
        assert "COVERED    'env.arrival_rps <= 800'" in calm.stdout
        loaded = upir(
            "calibrate",
            "-",
            "--prometheus",
            prom.url,
            "--range",
            "1m",
            "--step",
            "1s",
            "-o",
            "json",
            stdin=_doc({"arrival_rps": "upir_test_load"}, prom.url),
        )
        assert loaded.returncode == 1, loaded.stderr
        result = json.loads(loaded.stdout)
        check = result["assumptions"][0]
        assert check["assumption"] == "env.arrival_rps <= 800"
        assert check["coverage"] == "broken" and check["violations"] >= 1
        assert check["example"]["values"] == {"env.arrival_rps": 950}
        assert result["patch"]["spec"]["specification"]["assumptions"][0] == (
            "env.arrival_rps <= 1100"
        )
        # a query that returns several series is refused, naming the query
        several = upir(
            "calibrate",
            "-",
            "--prometheus",
            prom.url,
            "--range",
            "1m",
            stdin=_doc({"arrival_rps": '{__name__=~"upir_test_.*"}'}, prom.url),
        )
        assert several.returncode == 2
        assert "spec.tuning.prometheus.environment.arrival_rps: returned 2 series" in several.stderr
