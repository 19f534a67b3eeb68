"""The tuning benchmark's paired comparison (``benchmarks/tuning_support.paired``):
mean difference, bootstrap interval and win/tie/loss counts on hand-made seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from tuning_support import paired


def test_counts_and_mean() -> None:
    a = [0.9, 0.8, 0.7, 0.6]
    b = [0.8, 0.8, 0.9, 0.5]
    h = paired(a, b)
    assert h["seeds"] == 4
    assert h["mean_diff"] == pytest.approx((0.1 + 0.0 - 0.2 + 0.1) / 4)
    assert (h["wins"], h["ties"], h["losses"]) == (2, 1, 1)
    lo, hi = h["ci95"]
    # the bootstrap means lie between the smallest and the largest difference
    assert -0.2 - 1e-12 <= lo <= h["mean_diff"] <= hi <= 0.1 + 1e-12


def test_interval_excludes_zero_for_a_consistent_lead() -> None:
    a = [0.80 + 0.01 * i for i in range(10)]
    b = [x - 0.05 - 0.002 * (i % 3) for i, x in enumerate(a)]
    lo, hi = paired(a, b)["ci95"]
    assert 0.05 <= lo <= hi <= 0.054 + 1e-12


def test_reproducible_and_validated() -> None:
    a, b = [0.1, 0.5, 0.3], [0.2, 0.1, 0.3]
    assert paired(a, b) == paired(a, b)
    with pytest.raises(ValueError):
        paired([0.1], [0.1, 0.2])
    with pytest.raises(ValueError):
        paired([], [])
