"""The rendered PrometheusRule and the Grafana dashboard's queries, checked by the real
Prometheus tooling (promtool, from the Debian `prometheus` package): every expression
parses, and the alerts fire (and stay quiet) on synthetic series as documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "upir-operator"
Render = Callable[..., Any]
# the operator's own series as the ServiceMonitor labels them (release "upir")
TARGET = {"job": "upir-operator", "service": "upir-upir-operator-metrics"}


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, (
        "promtool not found: install the Debian package `prometheus` (scripts/bootstrap.sh)"
    )
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    body = ", ".join(f'{k}="{v}"' for k, v in {**TARGET, **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


@pytest.fixture
def rules(render: Render, tmp_path: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    rule = render("monitoring").one("PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    by_name = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"] if "alert" in r}
    return path, by_name


def test_alert_rules_pass_promtool(rules: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    path, by_name = rules
    out = run_promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(by_name) == {
        "UpirOperatorDown",
        "UpirReconcileErrors",
        "UpirPropertyNotProved",
        "UpirTuningProposalsRejected",
        "UpirTuningHeld",
        "UpirNotConformant",
        "UpirVerificationSlow",
    }
    for rule in by_name.values():
        assert rule["labels"]["team"] == "sre"  # alertLabels from the scenario
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}


def expand(template: str, labels: dict[str, str], value: str = "") -> str:
    """The few Go-template forms the annotations use, as Prometheus expands them."""
    out = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    return out.replace("{{ $value | humanizePercentage }}", value)


def expected(rule: dict[str, Any], labels: dict[str, str], value: str = "") -> dict[str, Any]:
    return {
        "exp_labels": {**labels, **rule["labels"]},
        "exp_annotations": {k: expand(v, labels, value) for k, v in rule["annotations"].items()},
    }


def test_alerts_fire_on_synthetic_series(
    rules: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    path, by_name = rules
    verdict = {"namespace": "shop", "upir": "api", "property": "p99_latency"}
    violated = {**verdict, "verdict": "VIOLATED"}
    obj = {"namespace": "shop", "upir": "api"}
    not_proved = by_name["UpirPropertyNotProved"]
    rejected = by_name["UpirTuningProposalsRejected"]
    errors = by_name["UpirReconcileErrors"]
    tests = {
        "rule_files": [str(path)],
        "evaluation_interval": "1m",
        "tests": [
            {
                # a property PROVED for 2 minutes, then VIOLATED (the verdict state
                # set the operator exports): pending for 15m, then firing with the
                # verdict named; a second property stays PROVED and never alerts
                "interval": "1m",
                "input_series": [
                    series("upir_property_verdict", "1 1 0x40", **verdict, verdict="PROVED"),
                    series("upir_property_verdict", "0 0 1x40", **violated),
                    series("upir_property_verdict", "0x40", **verdict, verdict="UNKNOWN"),
                    series(
                        "upir_property_verdict",
                        "1x40",
                        **{**verdict, "property": "safe"},
                        verdict="PROVED",
                    ),
                    series(
                        "upir_property_verdict",
                        "0x40",
                        **{**verdict, "property": "safe"},
                        verdict="VIOLATED",
                    ),
                    series("up", "1x40"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "UpirPropertyNotProved", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "UpirPropertyNotProved",
                        "exp_alerts": [expected(not_proved, violated)],
                    },
                    {"eval_time": "20m", "alertname": "UpirOperatorDown", "exp_alerts": []},
                ],
            },
            {
                # 3 of 5 proposals a minute rejected (60 % >= 40 %) for over 30 minutes
                "interval": "1m",
                "input_series": [
                    series("upir_tuning_proposals_total", "0+3x90", **obj, decision="rejected"),
                    series("upir_tuning_proposals_total", "0+2x90", **obj, decision="applied"),
                    series("upir_reconciles_total", "0+1x90", **obj, outcome="conflict"),
                    series("upir_reconciles_total", "0+9x90", **obj, outcome="applied"),
                    series("up", "1x90"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "80m",
                        "alertname": "UpirTuningProposalsRejected",
                        "exp_alerts": [expected(rejected, obj, "60%")],
                    },
                    {
                        "eval_time": "80m",
                        "alertname": "UpirReconcileErrors",
                        "exp_alerts": [expected(errors, obj)],
                    },
                ],
            },
            {
                # 1 of 10 rejected: below the threshold; no errors; the target is up
                "interval": "1m",
                "input_series": [
                    series("upir_tuning_proposals_total", "0+1x90", **obj, decision="rejected"),
                    series("upir_tuning_proposals_total", "0+9x90", **obj, decision="applied"),
                    series("upir_reconciles_total", "0+5x90", **obj, outcome="applied"),
                    series("upir_reconciles_total", "0+5x90", **obj, outcome="proved"),
                    series("up", "1x90"),
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "80m",
                        "alertname": "UpirTuningProposalsRejected",
                        "exp_alerts": [],
                    },
                    {"eval_time": "80m", "alertname": "UpirReconcileErrors", "exp_alerts": []},
                ],
            },
            {
                # a UPIR conformant for 2 minutes, then not (0) for longer than
                # notConformantFor (10m); another one has no data (no series): silent
                "interval": "1m",
                "input_series": [
                    series("upir_conformant", "1 1 0x30", **obj),
                    series("upir_conformant", "1 1 _x30", namespace="shop", upir="quiet"),
                    series("up", "1x30"),
                ],
                "alert_rule_test": [
                    {"eval_time": "8m", "alertname": "UpirNotConformant", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "UpirNotConformant",
                        "exp_alerts": [expected(by_name["UpirNotConformant"], obj)],
                    },
                ],
            },
            {
                # the operator's target disappears: UpirOperatorDown after downFor
                "interval": "1m",
                "input_series": [series("up", "1x5 0x20")],
                "alert_rule_test": [
                    {"eval_time": "8m", "alertname": "UpirOperatorDown", "exp_alerts": []},
                    {
                        "eval_time": "15m",
                        "alertname": "UpirOperatorDown",
                        "exp_alerts": [expected(by_name["UpirOperatorDown"], {})],
                    },
                ],
            },
        ],
    }
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    out = run_promtool("test", "rules", str(test_file))
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Each panel query (Grafana variables replaced by what Grafana would send) and
    each variable's label_values() selector is valid PromQL."""
    dash = json.loads((CHART / "dashboards" / "upir-operator.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var.get("type") == "query":
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["definition"])
            assert m, var["definition"]
            exprs.append(m.group(1))
    substitutions = {
        "$__rate_interval": "2m",
        "$__range": "6h",
        "$job": ".*",
        "$namespace": ".*",
        "$upir": ".*",
    }
    rules = []
    for i, expr in enumerate(exprs):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run_promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(rules)} rules found" in out.stdout


def test_dashboard_configmap_carries_the_json(render: Render) -> None:
    cm = next(
        c
        for c in render("monitoring").of_kind("ConfigMap")
        if c["metadata"]["name"].endswith("-dashboard")
    )
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "UPIR"}
    shipped = json.loads((CHART / "dashboards" / "upir-operator.json").read_text())
    assert json.loads(cm["data"]["upir-operator.json"]) == shipped
