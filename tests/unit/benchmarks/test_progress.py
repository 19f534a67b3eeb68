"""``benchmarks/progress.py``: a long phase prints a line per 5% of its jobs with
the time spent and an estimate of the time left, and ``tracked_map`` returns the
results in the jobs' order, as ``pool.map`` does."""

from __future__ import annotations

import io
from collections.abc import Callable
from multiprocessing.pool import ThreadPool
from types import ModuleType


def test_lines_every_share_with_an_estimate(benchmark_script: Callable[[str], ModuleType]) -> None:
    progress_module = benchmark_script("progress")
    now = [0.0]
    out = io.StringIO()
    p = progress_module.Progress("runs", 40, every=0.25, stream=out, clock=lambda: now[0])
    for _ in range(40):
        now[0] += 90.0  # 90 s per job
        p.advance()
    lines = out.getvalue().splitlines()
    assert lines == [
        "runs: 10/40, 15 min 00 s, about 45 min 00 s left",
        "runs: 20/40, 30 min 00 s, about 30 min 00 s left",
        "runs: 30/40, 45 min 00 s, about 15 min 00 s left",
        "runs: 40/40, 1 h 00 min",
    ]


def test_a_phase_shorter_than_the_step_still_reports_its_end(
    benchmark_script: Callable[[str], ModuleType],
) -> None:
    progress_module = benchmark_script("progress")
    out = io.StringIO()
    p = progress_module.Progress("limits", 4, stream=out, clock=lambda: 3.0)
    for _ in range(4):
        p.advance()
    # 5% of 4 jobs rounds to one job per line
    assert out.getvalue().splitlines()[-1] == "limits: 4/4, 0 s"
    assert len(out.getvalue().splitlines()) == 4


def test_tracked_map_keeps_the_jobs_order(benchmark_script: Callable[[str], ModuleType]) -> None:
    progress_module = benchmark_script("progress")
    with ThreadPool(3) as pool:
        got = progress_module.tracked_map(pool, lambda x: x * x, range(50), "squares")
    assert got == [x * x for x in range(50)]
