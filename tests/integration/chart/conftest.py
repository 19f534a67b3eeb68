"""Fixtures for the chart tests: helm and kubectl from scripts/tools.sh (installed
once into .tools/, reused by later runs), and the chart rendered per scenario."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "upir-operator"
RELEASE = "upir"
NAMESPACE = "upir-system"
SCENARIOS = sorted(
    p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")
)


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "tools.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, f"scripts/tools.sh failed:\n{out.stderr}"
    return Path(out.stdout.strip().splitlines()[-1])


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def helm(tools_bin: Path) -> Run:
    """Run helm; ``check=False`` returns a failed process instead of failing the test."""

    def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(tools_bin / "helm"), *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
            )
        return proc

    return run


def values_file(scenario: str) -> Path:
    return CHART / "ci" / f"{scenario}-values.yaml"


@dataclass
class Rendered:
    """One scenario's manifests (hooks included, CRDs excluded as in `helm install`)."""

    scenario: str
    text: str
    docs: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (doc,) = self.of_kind(kind)
        return doc


@pytest.fixture(scope="session")
def render(helm: Run) -> Callable[..., Rendered]:
    cache: dict[tuple[str, tuple[str, ...]], Rendered] = {}

    def run(scenario: str, *extra: str) -> Rendered:
        key = (scenario, extra)
        if key not in cache:
            text = helm(
                "template",
                RELEASE,
                str(CHART),
                "--namespace",
                NAMESPACE,
                "-f",
                str(values_file(scenario)),
                *extra,
            ).stdout
            docs = [d for d in yaml.safe_load_all(text) if d]
            cache[key] = Rendered(scenario, text, docs)
        return cache[key]

    return run
