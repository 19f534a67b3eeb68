"""The built image, inside: the hardened smoke, the runtime pins and nothing else, its
labels, OCI layout and SBOM, and the `upir` command on the examples (verify, and a
PPO episode against the simulator) with the same verdicts as the test environment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.image

ROOT = Path(__file__).resolve().parents[2]
# the conftest's podman / hardened fixtures
Podman = Callable[..., subprocess.CompletedProcess[str]]

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(name: str) -> dict[str, str]:
    """name -> version of every exact pin in a lock file."""
    pins: dict[str, str] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pkg, _, version = line.partition("==")
            pins[norm(pkg)] = version
    return pins


@pytest.fixture(scope="module")
def installed(hardened: Podman) -> dict[str, str]:
    """name -> version of every distribution in the image's Python environment."""
    code = (
        "import importlib.metadata as m, json;"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = hardened("-c", code, entrypoint="/opt/venv/bin/python").stdout
    return {norm(k): v for k, v in json.loads(out).items()}


def test_hardened_smoke(hardened: Podman) -> None:
    """As the chart runs it: uid 10001, the root filesystem read-only, /tmp writable,
    every runtime import, `upir --version`, the operator's --help."""
    script = textwrap.dedent("""
        echo "user $(id -u):$(id -g)"
        if touch /opt/venv/probe 2>/dev/null; then echo "root writable"; fi
        touch /tmp/probe && echo "tmp writable"
        python -c 'import upir, upir_operator, kopf, kubernetes, z3, sklearn, matplotlib, torch
        print("torch", torch.__version__, torch.version.cuda)'
        upir --version
    """)
    out = hardened("-euc", script, entrypoint="sh").stdout.splitlines()
    assert "user 10001:10001" in out
    assert "root writable" not in out
    assert "tmp writable" in out
    assert f"torch {lock('requirements.lock')['torch']} None" in out  # the CPU build
    assert f"upir {PYPROJECT['version']}" in out
    helped = hardened("--help")  # the entry point: upir-operator
    assert helped.stdout.startswith("usage: upir-operator")
    assert "--kubeconfig" in helped.stdout


def test_holds_the_runtime_pins_and_nothing_else(
    installed: dict[str, str], hardened: Podman
) -> None:
    runtime, dev = lock("requirements.lock"), lock("requirements-dev.lock")
    assert installed == {**runtime, "upir-operator": PYPROJECT["version"]}
    assert not set(installed) & set(dev)
    # no compiler, package installer or development tool on the PATH; no test suites,
    # no C++ headers, no emulator package
    script = """
        for tool in gcc cc c++ make pip pip3 pytest mypy ruff kubectl hadolint; do
            if command -v "$tool" >/dev/null; then echo "found $tool"; fi
        done
        site=$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
        find "$site" -name '*.dist-info' -prune -o -type d -name tests -print
        ls -d "$site/torch/include" "$site/torch/test" "$site/kubernetes/aio" 2>/dev/null || true
        ls "$site/torch/bin"
        python -c 'import importlib.util as u; print("e2e", u.find_spec("upir_e2e"))'
    """
    out = hardened("-euc", script, entrypoint="sh").stdout.splitlines()
    assert out == ["torch_shm_manager", "e2e None"], out


def test_labels_and_the_charts_default_reference(image: str, podman: Podman) -> None:
    info = json.loads(podman("image", "inspect", image).stdout)[0]
    labels: dict[str, str] = info["Labels"]
    assert labels["org.opencontainers.image.version"] == PYPROJECT["version"]
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["license"]["text"]
    assert labels["org.opencontainers.image.source"].startswith(("https://", "git@", "ssh://"))
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:
        assert labels["org.opencontainers.image.revision"].split("-")[0] == head.stdout.strip()
    else:
        assert labels["org.opencontainers.image.revision"] == "unknown"
    chart = yaml.safe_load((ROOT / "charts/upir-operator/Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "charts/upir-operator/values.yaml").read_text())
    assert f"{values['image']['repository']}:{chart['appVersion']}" == image
    assert info["Config"]["User"] == "10001:10001"
    assert info["Config"]["Entrypoint"] == ["upir-operator"]


def test_oci_layout_and_sbom(image: str, image_out: Path, installed: dict[str, str]) -> None:
    index = json.loads((image_out / "oci" / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == PYPROJECT["version"]
    blob = image_out / "oci" / "blobs" / "sha256"
    manifest = json.loads((blob / entry["digest"].split(":")[1]).read_text())
    assert manifest["layers"] and all(
        layer["mediaType"].endswith("tar+gzip") for layer in manifest["layers"]
    )
    config = json.loads((blob / manifest["config"]["digest"].split(":")[1]).read_text())
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == PYPROJECT["version"]
    sbom: dict[str, Any] = json.loads((image_out / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    # the project is the SBOM's subject; every other distribution in the image a component
    root = sbom["metadata"]["component"]
    assert (root["name"], root["version"]) == (PYPROJECT["name"], installed[PYPROJECT["name"]])
    listed = {norm(c["name"]): c["version"] for c in sbom["components"]}
    assert listed == {k: v for k, v in installed.items() if k != PYPROJECT["name"]}
    assert all(c["purl"].startswith("pkg:pypi/") for c in sbom["components"])


def upir_host(*args: str) -> subprocess.CompletedProcess[str]:
    upir = Path(sys.executable).with_name("upir")
    return subprocess.run([str(upir), *args], capture_output=True, text=True, timeout=300)


def verdicts(stdout: str) -> list[tuple[str, str]]:
    return [(r["property"], r["status"]) for r in json.loads(stdout)["results"]]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_upir_verify_on_the_examples_as_in_the_tests(example: Path, hardened: Podman) -> None:
    """`upir verify` in the image (no network) gives the test environment's verdicts."""
    inside = hardened(
        "verify",
        "-o",
        "json",
        f"/examples/{example.name}",
        mounts=(f"{ROOT / 'examples'}:/examples:ro",),
        entrypoint="upir",
        check=False,
    )
    outside = upir_host("verify", "-o", "json", str(example))
    assert inside.returncode == outside.returncode, inside.stderr
    assert verdicts(inside.stdout) == verdicts(outside.stdout)
    assert any(status == "PROVED" for _, status in verdicts(inside.stdout))


def test_ppo_episode_and_plot_in_the_image(hardened: Podman, tmp_path: Path) -> None:
    """PyTorch (PPO), the Z3 guardrail, the simulator and Matplotlib, in the pruned image."""
    tmp_path.chmod(0o777)  # the image's user writes the plot
    proc = hardened(
        "tune",
        "/examples/api-service.yaml",
        "--simulate",
        "--episodes",
        "1",
        "--seed",
        "1",
        "-o",
        "json",
        "--plot",
        "/out/tune.png",
        mounts=(f"{ROOT / 'examples'}:/examples:ro", f"{tmp_path}:/out:rw"),
        entrypoint="upir",
    )
    result = json.loads(proc.stdout)
    assert result["status"] == "OK" and result["episodes"] == 1
    assert (tmp_path / "tune.png").read_bytes().startswith(b"\x89PNG")
