"""What the demo shows at the end: a summary table and a plot over time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@dataclass
class Timeline:
    metric_points: list[tuple[float, dict[str, float | None]]] = field(default_factory=list)
    param_points: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    tuning_points: list[tuple[float, dict[str, Any], Any]] = field(default_factory=list)

    def metrics(self, t: float, values: dict[str, float | None]) -> None:
        self.metric_points.append((t, dict(values)))

    def params(self, t: float, values: dict[str, float]) -> None:
        self.param_points.append((t, dict(values)))

    def tuning(self, t: float, counts: dict[str, Any], decision: Any) -> None:
        self.tuning_points.append((t, dict(counts), decision))

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": [{"t": t, **v} for t, v in self.metric_points],
            "params": [{"t": t, **v} for t, v in self.param_points],
            "tuning": [{"t": t, "counts": c, "decision": d} for t, c, d in self.tuning_points],
        }


def _f(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}g}"


def summary_table(
    initial_params: dict[str, float],
    final_params: dict[str, float],
    initial: dict[str, float | None],
    final: dict[str, float | None],
    status: dict[str, Any],
    cert_ok: bool,
) -> str:
    rows = [("", "initial", "final")]
    for k in sorted(set(initial_params) | set(final_params)):
        rows.append((k, _f(initial_params.get(k), 6), _f(final_params.get(k), 6)))
    rows.append(("p99 latency (ms)", _f(initial.get("p99_ms")), _f(final.get("p99_ms"))))
    rows.append(
        ("throughput (req/s)", _f(initial.get("throughput_rps")), _f(final.get("throughput_rps")))
    )
    rows.append(("error rate", _f(initial.get("error_rate")), _f(final.get("error_rate"))))
    t = status.get("tuning") or {}
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{r[0]:<{width}}{r[1]:>12}{r[2]:>12}" for r in rows]
    lines.append("")
    lines.append(
        f"proposals {t.get('proposals', 0)}, accepted (proved) {t.get('accepted', 0)}, "
        f"rejected {t.get('rejected', 0)}, rolled back {t.get('rolledBack', 0)}, holds {t.get('holds', 0)}"
    )
    verdicts = status.get("verdicts") or []
    lines.append(
        "verdicts of the applied parameters: "
        + ", ".join(f"{v.get('property')}={v.get('status')}" for v in verdicts)
    )
    cert = status.get("certificate") or {}
    lines.append(f"certificate: keyId {cert.get('keyId', 'none')}, signature valid: {cert_ok}")
    return "\n".join(lines)


def render_plot(tl: Timeline, path: Path, domains: dict[str, tuple[float, float]]) -> Path:
    """Metrics over time, and each tunable parameter's position in its domain
    (0 = min, 1 = max), with tuning decisions marked."""
    t0 = min([p[0] for p in tl.metric_points + tl.param_points] or [0.0])
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    series = [
        ("p99_ms", "p99 latency (ms)"),
        ("throughput_rps", "throughput (req/s)"),
        ("error_rate", "error rate"),
    ]
    for ax, (key, label) in zip(axes[:3], series, strict=True):
        xs = [t - t0 for t, v in tl.metric_points if v.get(key) is not None]
        ys = [v[key] for t, v in tl.metric_points if v.get(key) is not None]
        ax.plot(xs, ys, marker=".", lw=1.2)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax = axes[3]
    for k in sorted(domains):
        lo, hi = domains[k]
        span = (hi - lo) or 1.0
        xs = [t - t0 for t, v in tl.param_points if k in v]
        ys = [(v[k] - lo) / span for t, v in tl.param_points if k in v]
        ax.step(xs, ys, where="post", label=k)
    ax.set_ylabel("position in domain")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("seconds")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    prev: dict[str, Any] = {}
    for t, counts, _ in tl.tuning_points:
        for kind, colour in (("accepted", "green"), ("rejected", "red"), ("rolledBack", "orange")):
            if counts.get(kind, 0) > prev.get(kind, 0):
                for a in axes:
                    a.axvline(t - t0, color=colour, alpha=0.4, lw=1)
        prev = counts
    axes[0].set_title(
        "reference workload under the operator (green: proved change applied, red: rejected)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
