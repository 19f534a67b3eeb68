"""The ``upir`` command as a person or a CI job runs it: the installed console
script in a subprocess (issue 25). Real Z3; nothing mocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "api-service.yaml"
UPIR = Path(sys.executable).parent / "upir"


def upir(
    *args: str, stdin: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UPIR_")}
    environ.update(env or {})
    return subprocess.run(
        [str(UPIR), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=environ,
        check=False,
    )


def example_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return doc


def failing_text() -> str:
    """The example with timeout_ms 800: 800 x (2 + 1) = 2400 > 2000 breaks
    retry_budget; the example's layout (and line numbers) is kept."""
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = text.replace("timeout_ms: 300, retries: 2}", "timeout_ms: 800, retries: 2}")
    assert changed != text
    return changed


def lossy_text() -> str:
    """The example with a queue of 100 and a slow consumer: no_loss fails."""
    doc = example_doc()
    comps = doc["spec"]["architecture"]["components"]
    comps[1]["params"]["capacity"] = 100
    comps[2]["params"].update(replicas=1, concurrency=4)
    return yaml.safe_dump(doc, sort_keys=False)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ----------------------------------------------------------------- stdin, -o


def test_stdin_is_read_for_dash() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert upir("validate", "-", stdin=text).returncode == 0
    done = upir("verify", "-", stdin=text)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<stdin>: UPIR 'checkout': 6 proved")
    bad = upir("validate", "-", stdin="spec: [")
    assert bad.returncode == 2 and "<stdin>" in bad.stderr and "Traceback" not in bad.stderr


def test_output_formats_json_and_yaml_agree() -> None:
    as_json = upir("verify", str(EXAMPLE), "-o", "json")
    as_yaml = upir("verify", str(EXAMPLE), "-o", "yaml")
    alias = upir("verify", str(EXAMPLE), "--json")
    assert as_json.returncode == as_yaml.returncode == alias.returncode == 0
    a, b, c = json.loads(as_json.stdout), yaml.safe_load(as_yaml.stdout), json.loads(alias.stdout)
    for data in (a, b, c):
        assert data["status"] == "PROVED"
        assert [r["property"] for r in data["results"]][:3] == ["no_loss", "fast", "retry_budget"]
    valid = upir("validate", str(EXAMPLE), "-o", "yaml")
    assert yaml.safe_load(valid.stdout)["files"][0]["upirs"][0]["name"] == "checkout"
    assert upir("verify", str(EXAMPLE), "-o", "xml").returncode == 2  # argparse: bad choice


def test_invalid_input_gives_json_from_verify_and_synthesize() -> None:
    doc = example_doc()
    doc["spec"]["specification"]["constraints"]["latency_ms"] = {"max": "fast"}
    text = yaml.safe_dump(doc)
    for command in ("verify", "synthesize"):
        done = upir(command, "-", "--json", stdin=text)
        assert done.returncode == 2
        data = json.loads(done.stdout)
        assert data["status"] == "INVALID_SPEC"
        assert any("latency_ms" in e["field"] for e in data["errors"])
        assert "latency_ms" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------ human output


def test_verdicts_are_printed_once_not_logged_again() -> None:
    done = upir("verify", str(EXAMPLE))
    assert done.returncode == 0
    assert done.stdout.count("no_loss") == 1
    assert "no_loss" not in done.stderr and "INFO" not in done.stderr
    debug = upir("verify", str(EXAMPLE), env={"UPIR_LOG_LEVEL": "DEBUG"})
    assert "Proved 'no_loss'" in debug.stderr
    synth = upir("synthesize", "-", stdin=failing_text())
    assert synth.returncode == 0 and synth.stdout.count("PROVED    no_loss") == 1
    assert synth.stderr == ""


def test_violation_shows_the_predicate_quantities_and_step() -> None:
    done = upir("verify", "-", stdin=failing_text())
    assert done.returncode == 1
    out = done.stdout
    assert "VIOLATED  retry_budget" in out
    assert "2400 <= 2000 is false" in out
    assert "gateway.timeout_ms * (gateway.retries + 1) = 2400" in out
    assert "gateway.timeout_ms = 800, gateway.retries = 2" in out
    assert "fails at step 0" in out
    lossy = upir("verify", "-", stdin=lossy_text())
    assert lossy.returncode == 1
    block = lossy.stdout.split("VIOLATED  no_loss", 1)[1].split("\n  PROVED", 1)[0]
    assert "orders.dropped == 0: " in block and "== 0 is false" in block
    assert "fails at step" in block and "counterexample: env.arrival_rps=800" in block
    data = json.loads(upir("verify", "-", "--json", stdin=lossy_text()).stdout)
    no_loss = next(r for r in data["results"] if r["property"] == "no_loss")
    violation = no_loss["violation"]
    assert violation["step"] == no_loss["counterexample"]["violatedAt"]
    assert violation["values"]["orders.dropped"] > 0
    assert violation["comparisons"][0]["holds"] is False


# ---------------------------------------------------------------- synthesize


def test_synthesize_writes_manifests_to_stdout_for_kubectl() -> None:
    done = upir("synthesize", "-", "-o", "-", stdin=failing_text())
    assert done.returncode == 0, done.stderr
    docs = list(yaml.safe_load_all(done.stdout))
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "ConfigMap" and "Deployment" in kinds
    assert docs[0]["data"]["gateway.timeout_ms"] == "660"  # least change: 800 -> 660
    assert "SUCCESS" in done.stderr and "SUCCESS" not in done.stdout


def test_synthesize_out_dir_and_the_old_dash_o_dir(tmp_path: Path) -> None:
    new = upir("synthesize", str(EXAMPLE), "--out-dir", str(tmp_path / "new"))
    old = upir("synthesize", str(EXAMPLE), "-o", str(tmp_path / "old"))
    assert new.returncode == old.returncode == 0
    assert "deprecated" in old.stderr and "--out-dir" in old.stderr
    names = sorted(p.name for p in (tmp_path / "new").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "old").iterdir())
    assert "upir.yaml" in names and any(n.startswith("00-configmap") for n in names)


def test_synthesize_objective_order() -> None:
    change = json.loads(upir("synthesize", "-", "-o", "json", stdin=failing_text()).stdout)
    cost = json.loads(
        upir("synthesize", "-", "-o", "json", "--objective", "cost", stdin=failing_text()).stdout
    )
    assert change["parameters"]["gateway.timeout_ms"] == 660
    assert cost["parameters"]["gateway.timeout_ms"] == 50
    assert change["objectiveOrder"][0] == "change" and cost["objectiveOrder"][0] == "cost"


# ------------------------------------------------------------- CI reports


def test_junit_has_one_test_case_per_property(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(failing_text(), encoding="utf-8")
    report = tmp_path / "upir.xml"
    done = upir("verify", str(EXAMPLE), str(bad), "--junit", str(report))
    assert done.returncode == 1
    assert "VIOLATED  retry_budget" in done.stdout  # human output goes on
    root = ET.fromstring(report.read_text(encoding="utf-8"))
    assert root.tag == "testsuites" and root.get("tests") == "12" and root.get("failures") == "1"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"{EXAMPLE}: checkout", f"{bad}: checkout"]
    cases = suites[1].findall("testcase")
    assert len(cases) == 6
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["retry_budget"]
    failure = failed[0].find("failure")
    assert failure is not None and "2400 <= 2000 is false" in (failure.text or "")
    assert failed[0].get("line") == str(line_of(failing_text(), "name: retry_budget"))
    # stdout form, and an invalid file as one error case
    printed = upir("verify", "-", "-o", "junit", stdin="kind: UPIR\n")
    assert printed.returncode == 2
    root = ET.fromstring(printed.stdout)
    assert root.get("errors") == "1" and root.find("testsuite/testcase/error") is not None


def test_sarif_points_at_the_failing_property_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(failing_text(), encoding="utf-8")
    done = upir("verify", "bad.yaml", "-o", "sarif", cwd=tmp_path)
    assert done.returncode == 1
    log = json.loads(done.stdout)
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert [r["properties"]["property"] for r in results] == ["retry_budget"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "bad.yaml"
    assert location["region"]["startLine"] == line_of(failing_text(), "name: retry_budget")
    rule_ids = {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert results[0]["ruleId"] in rule_ids
    # an invalid field is reported at its own line
    doc_text = EXAMPLE.read_text(encoding="utf-8").replace("cost: {max: 40}", "cost: {max: cheap}")
    invalid = upir("verify", "-", "--sarif", str(tmp_path / "x.sarif"), stdin=doc_text)
    assert invalid.returncode == 2
    found = json.loads((tmp_path / "x.sarif").read_text(encoding="utf-8"))["runs"][0]["results"]
    assert found and found[0]["ruleId"] == "upir/invalid"
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in found}
    assert line_of(doc_text, "cost: {max: cheap}") in lines


# ------------------------------------------------------------ pre-commit


def test_pre_commit_hooks_run_as_declared(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    ids = {h["id"] for h in hooks}
    assert {"upir-validate", "upir-verify"} <= ids
    bad = tmp_path / "bad.yaml"
    bad.write_text(failing_text(), encoding="utf-8")
    for hook in hooks:
        entry = hook["entry"].split()
        assert entry[0] == "upir" and hook["language"] == "python"
        args = [*entry[1:], *hook.get("args", [])]
        good = upir(*args, str(EXAMPLE))
        assert good.returncode == 0, (hook["id"], good.stderr)
        if hook["id"] == "upir-verify":
            assert upir(*args, str(EXAMPLE), str(bad)).returncode == 1
        broken = tmp_path / "broken.yaml"
        broken.write_text("kind: UPIR\nspec: {}\n", encoding="utf-8")
        assert upir(*args, str(broken)).returncode == 2


def test_every_file_command_reads_stdin_and_prints_yaml() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    done = upir("patterns", "match", "-", "-o", "yaml", "--top", "1", stdin=text)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(done.stdout)
    assert data["results"][0]["upir"] == "checkout" and len(data["results"][0]["matches"]) == 1
    cert = upir("cert", "verify", "-", "-o", "yaml", stdin="{}")
    assert cert.returncode == 1 and yaml.safe_load(cert.stdout)["valid"] is False
