"""The Helm chart's files, checked without helm: CRD drift, values documented and
schema-checked, settings ranges equal to the operator's, metrics named in the
dashboard and alerts exist, Chart/CHANGELOG versions.

helm itself (lint, template, RBAC, manifest validation) is exercised in
tests/integration/chart/.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from upir_operator.metrics import (
    PROPOSAL_DECISIONS,
    RECONCILE_OUTCOMES,
    VERDICTS,
    OperatorMetrics,
)
from upir_operator.settings import OperatorSettings, load_operator_settings

from upir.errors import SettingsError

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "upir-operator"
VALUES_TEXT = (CHART / "values.yaml").read_text(encoding="utf-8")
VALUES: dict[str, Any] = yaml.safe_load(VALUES_TEXT)
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))

# chart value -> the operator's environment variable (templates/deployment.yaml)
SETTINGS: dict[str, str] = {
    "operator.logLevel": "UPIR_LOG_LEVEL",
    "operator.recheckSeconds": "UPIR_RECHECK_SECONDS",
    "operator.inconclusiveRetrySeconds": "UPIR_INCONCLUSIVE_RETRY_SECONDS",
    "operator.workers": "UPIR_WORKERS",
    "operator.fieldManager": "UPIR_FIELD_MANAGER",
    "operator.cacheSize": "UPIR_CACHE_SIZE",
    "operator.solver.timeoutMs": "UPIR_Z3_TIMEOUT",
    "operator.solver.memoryMb": "UPIR_Z3_MEMORY_MB",
    "operator.solver.bmcSteps": "UPIR_BMC_STEPS",
    "operator.conformance.windows": "UPIR_CONFORMANCE_WINDOWS",
    "operator.prometheus.timeoutSeconds": "UPIR_PROMETHEUS_TIMEOUT",
    "operator.prometheus.maxMetricAgeSeconds": "UPIR_MAX_METRIC_AGE",
    "operator.prometheus.headers": "UPIR_PROMETHEUS_HEADERS",
    "operator.prometheus.bearerTokenKey": "UPIR_PROMETHEUS_BEARER_TOKEN_FILE",
    "operator.prometheus.username": "UPIR_PROMETHEUS_USERNAME",
    "operator.prometheus.passwordKey": "UPIR_PROMETHEUS_PASSWORD_FILE",
    "operator.prometheus.caKey": "UPIR_PROMETHEUS_CA_FILE",
    "operator.tuning.model": "UPIR_TUNING_MODEL",
    "operator.tuning.attempts": "UPIR_TUNING_ATTEMPTS",
    "operator.tuning.rollbackThreshold": "UPIR_TUNING_ROLLBACK_THRESHOLD",
    "operator.tuning.rollbackWindows": "UPIR_TUNING_ROLLBACK_WINDOWS",
    "operator.tuning.minThroughputRps": "UPIR_TUNING_MIN_THROUGHPUT",
    "operator.tuning.seed": "UPIR_TUNING_SEED",
    "metrics.port": "UPIR_METRICS_PORT",
    "health.port": "UPIR_HEALTH_PORT",
    "watchNamespace": "UPIR_NAMESPACE",
    "peering.enabled": "UPIR_PEERING",
    "signingKey.existingSecret": "UPIR_SIGNING_KEY_FILE",
}
# 0 disables the endpoint in the operator; the chart's probes and Service need both
NARROWER_IN_CHART = {"metrics.port", "health.port"}


def merged(*overlays: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's value merge: maps merge recursively, everything else replaces."""

    def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
        for key, value in over.items():
            if isinstance(value, Mapping) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base

    out = copy.deepcopy(VALUES)
    for overlay in overlays:
        merge(out, overlay)
    return out


def with_value(path: str, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return merged(doc)


def schema_errors(values: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)
    ]


def subschema(path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in path.split("."):
        node = node["properties"][part]
    return node


def leaf_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of values.yaml's values (maps are walked, everything else is a leaf;
    a map that is empty by default is a leaf too)."""
    if isinstance(node, dict) and node and not prefix.endswith(("labels", "annotations")):
        for key, value in node.items():
            yield from leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


# -- CRDs ----------------------------------------------------------------------


def test_chart_crd_is_identical_to_the_generated_crd() -> None:
    """One source of truth: crds/ is generated from upir/resource; the chart ships a
    byte-identical copy that templates/crds.yaml renders (refresh with:
    cp crds/upir.dev_upirs.yaml charts/upir-operator/files/crds/)."""
    generated = (ROOT / "crds" / "upir.dev_upirs.yaml").read_bytes()
    shipped = (CHART / "files" / "crds" / "upir.dev_upirs.yaml").read_bytes()
    assert shipped == generated, (
        "charts/upir-operator/files/crds/upir.dev_upirs.yaml differs from "
        "crds/upir.dev_upirs.yaml; copy the generated file into the chart"
    )


def test_chart_crds_folder_holds_only_the_kopf_peering_definitions() -> None:
    names = set()
    for path in sorted((CHART / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] == "CustomResourceDefinition", path
            names.add(doc["metadata"]["name"])
    # the UPIR CRD is a template (upgraded by helm upgrade); only kopf's stay here
    assert names == {"kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"}


# -- values.yaml and values.schema.json ----------------------------------------


def test_every_values_key_has_a_comment() -> None:
    undocumented = []
    previous = ""
    for number, line in enumerate(VALUES_TEXT.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        key = re.match(r"^\s*([A-Za-z_][\w.-]*):", line)
        if (
            key
            and not stripped.startswith("#")
            and not previous.startswith("#")
            and " # " not in line
        ):
            undocumented.append(f"line {number}: {key.group(1)}")
        previous = stripped
    assert not undocumented, "values.yaml keys without a comment: " + ", ".join(undocumented)


def test_the_defaults_and_every_ci_scenario_meet_the_schema() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert schema_errors(VALUES) == []
    assert len(CI_FILES) >= 6
    for path in CI_FILES:
        assert schema_errors(merged(yaml.safe_load(path.read_text()) or {})) == [], path.name


def test_every_schema_property_has_a_default_in_values_yaml() -> None:
    """The schema and values.yaml describe the same keys (so docs cover every key)."""

    def walk(schema: Mapping[str, Any], values: Any, prefix: str) -> Iterator[str]:
        for key, sub in schema.get("properties", {}).items():
            path = f"{prefix}{key}"
            if not isinstance(values, dict) or key not in values:
                yield path
            elif sub.get("type") == "object" and "properties" in sub:
                yield from walk(sub, values[key], path + ".")

    missing = [p for p in walk(SCHEMA, VALUES, "") if not p.startswith("resources.")]
    assert missing == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("operator.workerz", 3),  # a typo'd key
        ("image.tags", "1.0"),
        ("metrics.serviceMonitor.intervall", "30s"),
        ("operator.solver.timeout", 5),
        ("networkPolicy.enable", True),
        ("operator.logLevel", "verbose"),
        ("operator.workers", 0),
        ("metrics.serviceMonitor.interval", "30 seconds"),
        ("image.digest", "latest"),
        ("watchNamespace", "Team_A"),
    ],
)
def test_the_schema_rejects_typos_and_bad_values(path: str, value: Any) -> None:
    assert schema_errors(with_value(path, value)), f"{path}={value!r} was accepted"


def test_more_than_one_replica_requires_peering() -> None:
    assert schema_errors(merged({"replicaCount": 2}))
    assert schema_errors(merged({"replicaCount": 2, "peering": {"enabled": True}})) == []
    assert schema_errors(merged({"replicaCount": 1})) == []


def test_every_operator_variable_is_a_chart_value() -> None:
    """Every UPIR_* variable the operator reads is rendered by the Deployment template."""
    read = set()
    for source in (ROOT / "operator/upir_operator/settings.py", ROOT / "upir/settings.py"):
        read |= set(re.findall(r'"(UPIR_[A-Z0-9_]+)"', source.read_text(encoding="utf-8")))
    read.discard(
        "UPIR_CONFIG"
    )  # a TOML file for the command line; the chart sets everything by env
    template = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    rendered = set(re.findall(r"- name: (UPIR_[A-Z0-9_]+)", template))
    assert rendered == read
    assert set(SETTINGS.values()) == read


@pytest.mark.parametrize(
    "path",
    [
        p
        for p, env in SETTINGS.items()
        if "type" in subschema(p) and subschema(p)["type"] in ("integer", "number")
    ],
)
def test_schema_ranges_match_the_operator(path: str) -> None:
    """The schema's bounds are accepted by the operator; just outside them the operator
    refuses too (so helm rejects exactly what would stop the operator at start-up)."""
    env_name = SETTINGS[path]
    sub = subschema(path)
    lo, hi = sub["minimum"], sub["maximum"]
    for bound in (lo, hi):
        assert schema_errors(with_value(path, bound)) == []
        load_operator_settings({env_name: str(bound)})
    if path in NARROWER_IN_CHART:
        return
    step = 1 if sub["type"] == "integer" else lo / 2 if lo > 0 else 0.5
    for outside in (lo - step, hi + step):
        assert schema_errors(with_value(path, outside)), f"schema accepted {path}={outside}"
        with pytest.raises(SettingsError):
            load_operator_settings({env_name: str(outside)})


def test_log_levels_match_the_library() -> None:
    from upir.settings import LOG_LEVELS

    assert subschema("operator.logLevel")["enum"] == list(LOG_LEVELS)


def test_default_values_equal_the_operator_defaults() -> None:
    """Installing the chart with no values gives the operator's documented defaults,
    except the solver memory ceiling (sized for the default container limit)."""
    d = OperatorSettings()
    op = VALUES["operator"]
    assert op["recheckSeconds"] == d.recheck_seconds
    assert op["inconclusiveRetrySeconds"] == d.inconclusive_retry_seconds
    assert op["workers"] == d.workers
    assert op["fieldManager"] == d.field_manager
    assert op["cacheSize"] == d.library.cache.size
    assert op["logLevel"] == d.library.log.level
    assert op["solver"]["timeoutMs"] == d.library.solver.timeout_ms
    assert op["solver"]["bmcSteps"] == d.library.solver.bmc_steps
    assert op["conformance"]["windows"] == d.library.conformance.windows
    assert op["solver"]["memoryMb"] <= d.library.solver.memory_mb
    assert op["prometheus"]["timeoutSeconds"] == d.prometheus_timeout_s
    assert op["prometheus"]["maxMetricAgeSeconds"] == d.tuning.hold.max_age_s
    t = op["tuning"]
    assert {"auto": None, "on": True, "off": False}[t["model"]] == d.tuning.model
    assert t["attempts"] == d.tuning.attempts
    assert t["rollbackThreshold"] == d.tuning.rollback.threshold and d.tuning.rollback.enabled
    assert t["rollbackWindows"] == d.tuning.rollback.windows
    assert t["minThroughputRps"] == d.tuning.hold.min_throughput_rps
    assert t["seed"] == d.tuning.seed
    assert VALUES["metrics"]["port"] == d.metrics_port
    assert VALUES["health"]["port"] == d.health_port


def test_install_doc_explains_every_value() -> None:
    doc = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    missing = [p for p in leaf_paths(VALUES) if f"`{p}`" not in doc]
    assert missing == [], "values not explained in docs/install.md: " + ", ".join(missing)


# -- versions --------------------------------------------------------------------


def test_chart_versions_are_semantic_and_match_the_project() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    semver = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
    assert chart["apiVersion"] == "v2"
    assert re.match(semver, chart["version"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    import upir

    assert chart["appVersion"] == project["version"] == upir.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(chart['version'])}\]", changelog, re.M), (
        "CHANGELOG.md has no section for the chart's version"
    )


# -- metrics in the dashboard and the alerts -------------------------------------


def exported_series() -> dict[str, set[str]]:
    """Family name -> the series names Prometheus stores for it."""
    suffixes = {
        "counter": {"_total"},
        "histogram": {"_bucket", "_sum", "_count"},
        "gauge": {""},
        "summary": {"_sum", "_count", ""},
    }
    families = {}
    for family in OperatorMetrics().registry.collect():
        families[family.name] = {family.name + s for s in suffixes[family.type]}
    return families


def dashboard_exprs() -> list[str]:
    dash = json.loads((CHART / "dashboards" / "upir-operator.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if v.get("type") == "query"]
    return exprs


def test_dashboard_is_well_formed() -> None:
    dash = json.loads((CHART / "dashboards" / "upir-operator.json").read_text(encoding="utf-8"))
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["uid"] == "upir-operator"
    for panel in dash["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_dashboard_and_alerts_use_only_the_operators_metrics(source: str) -> None:
    if source == "dashboard":
        text = "\n".join(dashboard_exprs())
    else:
        text = (CHART / "templates" / "prometheusrule.yaml").read_text(encoding="utf-8")
    series = set().union(*exported_series().values())
    used = set(re.findall(r"\b(upir_[a-z_]+)\b", text))
    assert used, source
    assert used <= series, f"{source} uses unknown metrics: {sorted(used - series)}"


def test_dashboard_shows_every_operator_metric() -> None:
    text = "\n".join(dashboard_exprs())
    missing = [
        name for name, series in exported_series().items() if not any(s in text for s in series)
    ]
    assert missing == []


EMITTED = {
    "outcome": set(RECONCILE_OUTCOMES),
    "decision": set(PROPOSAL_DECISIONS),
    "verdict": set(VERDICTS),
}


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_label_values_are_the_ones_the_operator_emits(source: str) -> None:
    """Alerts and panels match the label values the code writes, exactly (an
    alternation of them at most), never a guessed, case-blind regex (issue 23)."""
    if source == "dashboard":
        text = "\n".join(dashboard_exprs())
    else:
        text = (CHART / "templates" / "prometheusrule.yaml").read_text(encoding="utf-8")
    found = re.findall(r'\b(outcome|decision|verdict)\s*(=~|!=|=)\s*"([^"]*)"', text)
    assert found, source
    for label, _, value in found:
        values = set(value.split("|"))
        assert values <= EMITTED[label], (label, value)


def test_every_per_object_panel_follows_the_namespace_and_upir_variables() -> None:
    dash = json.loads((CHART / "dashboards" / "upir-operator.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        for selector in re.findall(r"upir_[a-z_]+\{([^}]*)\}", expr):
            assert 'namespace=~"$namespace"' in selector and 'upir=~"$upir"' in selector, expr
    titles = {p["title"]: p for p in dash["panels"]}
    latency = titles["Measured latency"]
    assert "upir_measured_latency_ms" in latency["targets"][0]["expr"]
