"""``benchmarks/tuning_markdown.py`` lays out the figures ``tuning.py`` wrote
(here the committed shared-loop run) as the docs' tables, without changing one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "benchmarks" / "results" / "tuning-shared-loop" / "tuning.json"


def test_tables_carry_the_json_figures(
    benchmark_script: Callable[[str], ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    assert benchmark_script("tuning_markdown").main([str(RESULTS)]) == 0
    out = capsys.readouterr().out
    # the default learner's steady row, as docs/benchmarks.md quoted it from this run
    assert (
        "| PPO + guardrail + rollback + model + restart (the default) | 77% | 97% [0.82, 1.00] "
        "| 97% [0.82, 1.00] | 93% | 60% | 0.1% | 51 (9/10) | **0.899** | **0/897** "
        "| **0/1000** | **0/10** | 18/990 |"
    ) in out
    assert "| shift_cpu | PPO + guardrail vs Optuna TPE + guardrail | -0.040 |" in out
    assert out.count("| method | share of limit |") == 4


@pytest.mark.parametrize("content", [None, "{", '{"other": 1}'])
def test_a_missing_or_foreign_file_exits_2_naming_it(
    benchmark_script: Callable[[str], ModuleType],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
) -> None:
    path = tmp_path / "tuning.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exc:
        benchmark_script("tuning_markdown").main([str(path)])
    assert exc.value.code == 2
    assert f"{path}: not a tuning.json of benchmarks/tuning.py" in capsys.readouterr().err
