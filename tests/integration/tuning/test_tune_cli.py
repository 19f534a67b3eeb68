"""``upir tune FILE --simulate``: output shape, plot, exit codes (real Z3, real
PyTorch, the real simulator; a few short windows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.cli.main import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "benchmarks" / "tuning_upir.yaml"
SHORT = ["--episodes", "2", "--windows", "3", "--window-s", "2", "--seed", "1"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tune", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "run.png"
    code, out, err = _run(capsys, str(SPEC), "--simulate", *SHORT, "--json", "--plot", str(png))
    assert code == 0, err
    result = json.loads(out)  # nothing but the JSON object on stdout
    assert result["status"] == "OK" and result["upir"] == "refworkload-tuning"
    assert result["episodes"] == 2 and result["windowsPerEpisode"] == 3
    assert result["profile"] == {"kind": "steady", "rps": 210.0, "peakRps": 315.0}
    names = [p["name"] for p in yaml.safe_load(SPEC.read_text())["spec"]["parameters"]]
    for side in ("initial", "final"):
        assert list(result[side]["parameters"]) == names
        metrics = result[side]["metrics"]
        for key in ("latency_ms", "throughput_rps", "error_rate", "drop_rate", "cost"):
            assert isinstance(metrics[key], float)
        assert isinstance(result[side]["score"], float)
    assert result["initial"]["proved"] is True
    p = result["proposals"]
    assert p["windows"] == 6 and len(result["history"]) == 6
    assert p["accepted"] + p["unchanged"] + p["rolledBack"] <= 6
    assert p["rejected"] == len([r for r in result["rejections"]])
    for item in result["history"]:
        assert item["outcome"] in ("unchanged", "accepted", "rejected", "rolled back")
        assert set(item["parameters"]) == set(names)
        for g in item["guardrail"]:
            assert g["status"] in ("PROVED", "VIOLATED", "UNKNOWN", "TIMEOUT", "ERROR")
            assert g["proved"] == (g["status"] == "PROVED")
    for rej in result["rejections"]:
        assert rej["proved"] is False and rej["status"] != "PROVED" and rej["failed"]
    assert result["guardrail"]["checks"] >= p["accepted"] + p["rejected"]
    assert result["learner"]["windows"] == 6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and result["plot"] == str(png)


def test_model_learns_from_imagined_windows(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--episodes", "2", "--windows", "5", "--window-s", "2", "--seed", "1", "--json"]
    code, out, err = _run(capsys, str(SPEC), "--simulate", *args, "--model")
    assert code == 0, err
    learner = json.loads(out)["learner"]
    assert learner["windows"] == 10 and learner["imagined"] == 3  # from the 8th window on
    # the default (auto) is the winner too: the simulator supplies its offered load
    code, out, err = _run(capsys, str(SPEC), "--simulate", *args)
    assert code == 0, err
    assert json.loads(out)["learner"]["imagined"] == 3
    code, out, err = _run(capsys, str(SPEC), "--simulate", *args, "--model", "off")
    assert code == 0, err
    assert json.loads(out)["learner"]["imagined"] == 0


def test_restart_on_a_load_jump(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--episodes", "2", "--windows", "4", "--window-s", "2", "--seed", "1", "--json"]
    shift = ["--profile", "shift", "--rps", "100", "--peak-rps", "300"]
    off = ("--model", "off")
    code, out, err = _run(
        capsys, str(SPEC), "--simulate", *args, *shift, *off, "--restart-on", "offered_rps"
    )
    assert code == 0, err
    # up at each episode's middle, and down again when the second episode starts
    assert json.loads(out)["learner"]["restarts"] == 3
    code, out, err = _run(capsys, str(SPEC), "--simulate", *args, *shift, *off)
    assert code == 0, err
    assert json.loads(out)["learner"]["restarts"] == 0
    # the default (the winner) restarts on the offered load by itself
    code, out, err = _run(capsys, str(SPEC), "--simulate", *args, *shift)
    assert code == 0, err
    assert json.loads(out)["learner"]["restarts"] == 3
    code, out, err = _run(capsys, str(SPEC), "--simulate", "--restart-on", "rps")
    assert code == 2 and out == "" and "--restart-on" in err and "offered_rps" in err


def test_human_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(SPEC), "--simulate", *SHORT, "--profile", "shift")
    assert code == 0, err
    assert "initial" in out and "final" in out and "p99 latency" in out and "proposals:" in out
    assert "episode 2:" in err  # plain progress lines when stderr is not a terminal


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "u.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_parameters_beyond_the_reference_model_tune_on_the_general_simulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # once refused ("the simulator does not model this parameter"): the UPIR's own
    # architecture now runs on the general simulator
    doc = yaml.safe_load(SPEC.read_text())
    doc["spec"]["parameters"].append({"name": "worker.timeout_ms", "min": 100, "max": 2000})
    code, out, err = _run(capsys, _write(tmp_path, doc), "--simulate", *SHORT, "--json")
    assert code == 0, err
    assert "worker.timeout_ms" in json.loads(out)["final"]["parameters"]


def test_another_component_type_tunes_on_the_general_simulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = yaml.safe_load(SPEC.read_text())
    for comp in doc["spec"]["architecture"]["components"]:
        if comp["name"] == "batcher":
            comp["type"] = "service"
            comp["params"] = {"replicas": 1}
    doc["spec"]["parameters"] = [{"name": "batcher.replicas", "min": 1, "max": 4}]
    doc["spec"]["specification"]["invariants"] = []
    doc["spec"]["specification"]["properties"] = []
    code, out, err = _run(capsys, _write(tmp_path, doc), "--simulate", *SHORT, "--json")
    assert code == 0, err
    assert list(json.loads(out)["final"]["parameters"]) == ["batcher.replicas"]


@pytest.mark.parametrize(
    "args",
    [
        [str(SPEC)],  # no --simulate
        [str(SPEC), "--simulate", "--windows", "0"],
        [str(SPEC), "--simulate", "--episodes", "0"],
        [str(SPEC), "--simulate", "--rps", "-5"],
        [str(SPEC), "--simulate", "--seed", "-1"],
        [str(SPEC), "--simulate", "--rollback", "-0.1"],
        [str(SPEC), "--simulate", "--rollback", "nan"],
        [str(SPEC), "--simulate", "--restart-on", "requests"],
        ["/nonexistent/upir.yaml", "--simulate"],
    ],
)
def test_bad_input_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == "" and err and "Traceback" not in err


def test_bad_plot_path_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.png"
    code, _, err = _run(
        capsys,
        str(SPEC),
        "--simulate",
        "--episodes",
        "1",
        "--windows",
        "1",
        "--window-s",
        "1",
        "--plot",
        str(target),
    )
    assert code == 2 and "plot" in err
