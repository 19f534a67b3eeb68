"""The example CI jobs of docs/ci.md (examples/ci/) run as written: their `upir`
steps, in a copy of the repository's examples, with the installed command. The
install step needs the network and is not run here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CI = ROOT / "examples" / "ci"


def _workspace(tmp_path: Path, *, failing: bool = False) -> Path:
    """A checkout-like directory holding the example UPIR files."""
    (tmp_path / "examples").mkdir()
    for f in (ROOT / "examples").glob("*.yaml"):
        shutil.copy(f, tmp_path / "examples" / f.name)
    if failing:
        api = tmp_path / "examples" / "api-service.yaml"
        text = api.read_text(encoding="utf-8")
        api.write_text(text.replace("timeout_ms: 300, retries: 2}", "timeout_ms: 800, retries: 2}"))
    return tmp_path


def _sh(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UPIR_")}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    environ.update(env)
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=environ, capture_output=True, text=True, timeout=300
    )


def _reports_are_valid(cwd: Path, junit: str, sarif: str) -> None:
    root = ET.fromstring((cwd / junit).read_text(encoding="utf-8"))
    assert root.tag == "testsuites" and int(root.get("tests", "0")) >= 15
    log = json.loads((cwd / sarif).read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"


def _github() -> tuple[dict[str, Any], list[str]]:
    wf = yaml.safe_load((CI / "github-workflow.yaml").read_text(encoding="utf-8"))
    steps = wf["jobs"]["upir"]["steps"]
    runs = [s["run"] for s in steps if "run" in s and s["run"].startswith("upir ")]
    return wf, runs


def test_github_workflow_upir_steps(tmp_path: Path) -> None:
    wf, runs = _github()
    assert len(runs) == 2
    env = {"UPIR_FILES": wf["env"]["UPIR_FILES"]}
    cwd = _workspace(tmp_path)
    for line in runs:
        done = _sh(line, cwd, env)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    steps = wf["jobs"]["upir"]["steps"]
    uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    junit = uses["mikepenz/action-junit-report"]["report_paths"]
    sarif = uses["github/codeql-action/upload-sarif"]["sarif_file"]
    _reports_are_valid(cwd, junit, sarif)


def test_github_workflow_fails_on_a_violation_and_still_writes_reports(tmp_path: Path) -> None:
    wf, runs = _github()
    cwd = _workspace(tmp_path, failing=True)
    done = _sh(runs[-1], cwd, {"UPIR_FILES": wf["env"]["UPIR_FILES"]})
    assert done.returncode == 1 and "VIOLATED  retry_budget" in done.stdout
    _reports_are_valid(cwd, "upir-junit.xml", "upir.sarif")


def test_gitlab_job_script(tmp_path: Path) -> None:
    job = yaml.safe_load((CI / "gitlab-ci.yaml").read_text(encoding="utf-8"))["upir"]
    cwd = _workspace(tmp_path)
    env = {"UPIR_FILES": job["variables"]["UPIR_FILES"]}
    for line in job["script"]:
        done = _sh(line, cwd, env)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
    _reports_are_valid(cwd, job["artifacts"]["reports"]["junit"], job["artifacts"]["paths"][0])


def test_docs_show_the_example_jobs_as_they_are() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    shown = [yaml.safe_load(b) for b in blocks]
    for name in ("github-workflow.yaml", "gitlab-ci.yaml"):
        assert yaml.safe_load((CI / name).read_text(encoding="utf-8")) in shown, name
