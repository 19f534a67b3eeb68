"""``benchmarks/tuning.py --quick`` runs end to end and reports what the full run
reports (tiny budgets: this checks the machinery, not the figures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("args", [["--first-seed", "-1"], ["--seeds", "0"]])
def test_bad_seed_arguments_exit_2(
    benchmark_script: Callable[[str], ModuleType],
    args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        benchmark_script("tuning").main(["--quick", *args])
    assert exc.value.code == 2
    assert "--first-seed must be >= 0 and --seeds >= 1" in capsys.readouterr().err


def test_quick_benchmark(
    benchmark_script: Callable[[str], ModuleType],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = benchmark_script("tuning")
    assert module.main(["--quick", "--jobs", "2", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "tuning.json").read_text())
    assert (tmp_path / "tuning.png").read_bytes()[:4] == b"\x89PNG"
    assert result["command"] == "python benchmarks/tuning.py --quick"
    assert set(result["scenarios"]) == {"steady", "shift", "tight", "shift_cpu"}
    shift, cpu = result["scenarios"]["shift"], result["scenarios"]["shift_cpu"]
    assert cpu["worker_cores"] == 2 and shift["worker_cores"] is None
    # the CPU model reaches the runs and the limit search (same seed, same random
    # configurations, other outcomes), and keeping the old optimum never costs less
    # there. Under model 2 the quick grid's proved optimum has 4 worker replicas, none
    # past its 2 cores, so at this scale it costs the same
    online = "mean_online_score"
    assert cpu["methods"]["random"][online] != shift["methods"]["random"][online]
    assert cpu["limit"]["score"] != shift["limit"]["score"]
    assert (
        cpu["proved_limit"]["before_shift"]["share_of_proved_limit"]
        <= shift["proved_limit"]["before_shift"]["share_of_proved_limit"]
    )
    # the bound each scenario's spec proves, as the report states it
    bounds = {k: v["latency_max_ms"] for k, v in result["scenarios"].items()}
    assert bounds == {"steady": 500.0, "shift": 500.0, "tight": 300.0, "shift_cpu": 500.0}
    for name, scenario in result["scenarios"].items():
        assert scenario["limit"]["score"] >= scenario["proved_limit"]["score"]
        before = scenario["proved_limit"]["before_shift"]
        if name.startswith("shift"):  # what the shift leaves to re-adapt: the old optimum, kept
            assert before["rps"] == 120.0 and len(before["proved_config"]) == 9
            assert before["share_of_proved_limit"] == pytest.approx(
                before["score_after_shift"] / scenario["proved_limit"]["score"]
            )
        else:
            assert before is None
        methods = scenario["methods"]
        assert set(methods) == {
            "defaults",
            "random",
            "optuna_tpe",
            "optuna_guarded",
            "optuna_guarded_step",
            "ppo",
            "ppo_guarded",
            "ppo_guarded_rollback",
            "ppo_guarded_rollback_model",
        }
        for m in methods.values():
            assert m["windows"] == 8
            assert 0 <= m["unsafe_configs_applied"] <= m["distinct_configs_applied"]
        # the guarded learner applies only what the independent check finds safe
        for guarded in (
            "ppo_guarded",
            "ppo_guarded_rollback",
            "ppo_guarded_rollback_model",
            "optuna_guarded",
            "optuna_guarded_step",
        ):
            assert methods[guarded]["unsafe_configs_applied"] == 0
            assert methods[guarded]["windows_in_unsafe_configs"] == 0
        # the learner and the step-limited tuner never move a parameter further than
        # maxStepFraction allows (only a rollback may jump back)
        for stepped in ("ppo", "ppo_guarded", "optuna_guarded_step"):
            assert methods[stepped]["step_breaches"] == 0
        for m in methods.values():  # a final held to the spec is one the audit finds safe
            assert m["spec_finals_unsafe"] == 0
        assert methods["defaults"]["share_of_limit"] == pytest.approx(0.0, abs=1e-9)
        # guarded PPO against the tuners a user would pick instead, seed by seed
        assert set(scenario["head_to_head"]) == {
            "ppo_guarded_rollback vs optuna_guarded",
            "ppo_guarded_rollback vs optuna_guarded_step",
            "ppo_guarded_rollback vs optuna_tpe",
            "ppo_guarded vs optuna_guarded",
            "ppo_guarded_rollback_model vs optuna_guarded",
            "ppo_guarded_rollback_model vs ppo_guarded_rollback",
        }
        for h in scenario["head_to_head"].values():
            assert h["seeds"] == 1 and h["wins"] + h["ties"] + h["losses"] == 1
            assert h["ci95"][0] <= h["mean_diff"] <= h["ci95"][1]
    for timing in result["guardrail_timing"].values():
        assert timing["parameters"] == 10 and timing["checks"] == 10
    out = capsys.readouterr().out
    assert "ppo_guarded" in out and "guardrail, tuning spec" in out
    assert "ppo_guarded_rollback vs optuna_guarded" in out
