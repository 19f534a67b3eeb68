"""Reports of a simulated tuning run: side-by-side evaluation and a PNG plot."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError
from upir.simulator import LoadProfile
from upir.tuning.simulated import SimulatedWorkload, WindowRecord

__all__ = ["evaluate", "plot_tuning"]

PLOT_METRICS = (
    ("latency_ms", "p99 latency (ms)"),
    ("throughput_rps", "throughput (req/s)"),
    ("error_rate", "error rate"),
)


def evaluate(
    upir: UPIR,
    values: Mapping[str, Fraction],
    profile: LoadProfile,
    *,
    seed: int,
    windows: int,
    window_s: float,
    cores: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """Mean metrics of ``values`` held for ``windows`` windows on a fresh
    simulator (same seed, so two evaluations see the same arrivals).
    ``cores``: CPUs per replica by service (:class:`SimulatedWorkload`)."""
    wl = SimulatedWorkload(upir, profile, cores=cores, seed=seed, window_s=window_s)
    runs = [wl.run(values) for _ in range(windows)]
    return {k: statistics.fmean(r[k] for r in runs) for k in runs[0]}


def plot_tuning(
    records: Sequence[WindowRecord],
    upir: UPIR,
    path: str | Path,
    *,
    title: str = "",
) -> None:
    """Metrics and (normalised) parameters over the windows of a run, with
    accepted proposals (green triangles) and rejected ones (red crosses) marked.

    Raises :class:`InvalidSpecError` when the file cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = list(range(len(records)))
    fig, axes = plt.subplots(len(PLOT_METRICS) + 1, 1, figsize=(10, 9), sharex=True)
    accepted = [i for i, r in enumerate(records) if r.outcome in ("accepted", "applied")]
    rejected = [i for i, r in enumerate(records) if any(not d.proved for d in r.decisions)]
    starts = [i for i, r in enumerate(records) if i > 0 and r.episode != records[i - 1].episode]
    for ax, (key, label) in zip(axes, PLOT_METRICS, strict=False):
        ys = [r.metrics.get(key, math.nan) for r in records]
        ax.plot(xs, ys, color="tab:blue", linewidth=1.2)
        if key == "throughput_rps" and all("offered_rps" in r.metrics for r in records):
            ax.plot(
                xs,
                [r.metrics["offered_rps"] for r in records],
                color="tab:gray",
                linestyle=":",
                label="offered",
            )
            ax.legend(loc="lower right", fontsize=7)
        ax.scatter(
            accepted, [ys[i] for i in accepted], marker="^", color="tab:green", s=18, zorder=3
        )
        ax.scatter(rejected, [ys[i] for i in rejected], marker="x", color="tab:red", s=22, zorder=3)
        ax.set_ylabel(label, fontsize=8)
        for s in starts:
            ax.axvline(s - 0.5, color="k", linestyle="--", linewidth=0.6)
    ax = axes[-1]
    for d in upir.parameters:
        span = float(d.max - d.min) or 1.0
        ax.plot(
            xs,
            [(float(r.params[d.name]) - float(d.min)) / span for r in records],
            linewidth=1.0,
            label=d.name,
        )
    ax.scatter(
        accepted, [1.02] * len(accepted), marker="^", color="tab:green", s=18, label="accepted"
    )
    ax.scatter(
        rejected, [1.06] * len(rejected), marker="x", color="tab:red", s=22, label="rejected"
    )
    for s in starts:
        ax.axvline(s - 0.5, color="k", linestyle="--", linewidth=0.6)
    ax.set_ylabel("parameter (0 = min, 1 = max)", fontsize=8)
    ax.set_xlabel("decision window")
    ax.set_ylim(-0.05, 1.1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as err:
        raise InvalidSpecError(
            [FieldIssue(str(path), f"cannot write the plot: {err.strerror or err}")]
        ) from None
    finally:
        plt.close(fig)
