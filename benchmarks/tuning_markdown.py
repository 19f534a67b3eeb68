"""The tuning benchmark's figures as the Markdown tables of docs/benchmarks.md.

Run from the repository root, after ``python benchmarks/tuning.py``::

    python benchmarks/tuning_markdown.py benchmarks/results/tuning.json

Prints, per scenario, its setup line (defaults, limit, proved limit), the
method table, and then the head-to-head table of every scenario: the same
figures ``tuning.py`` prints, laid out for the docs (so none is typed by hand).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LABELS = {
    "defaults": "defaults",
    "random": "random search",
    "optuna_tpe": "Optuna TPE",
    "optuna_guarded": "Optuna TPE + guardrail",
    "optuna_guarded_step": "Optuna TPE + guardrail, step-limited",
    "ppo": "PPO, no guardrail",
    "ppo_guarded": "PPO + guardrail",
    "ppo_guarded_rollback": "PPO + guardrail + rollback",
    "ppo_guarded_rollback_model": "PPO + guardrail + rollback + model + restart (the default)",
}
HEADER = (
    "| method | share of limit | of proved limit [min, max] | best in-spec final | end "
    "| p99 reduction | throughput gain | 95% of proved limit | online "
    "| unsafe configs applied | unsafe windows | unsafe finals | step-limit breaches |"
)
GUARDED = ("optuna_guarded", "optuna_guarded_step", "ppo_guarded", "ppo_guarded_rollback")


def pct(x: float | None) -> str:
    """A share as a whole percentage (empty for none)."""
    return "" if x is None else f"{x * 100:.0f}%"


def reach(hits: list[int | None]) -> str:
    """Windows to reach a target: the median over the seeds that did, with how
    many of them when not all; "never" when none did."""
    got = sorted(h for h in hits if h is not None)
    if not got:
        return "never"
    med = got[len(got) // 2]
    return f"{med}" + (f" ({len(got)}/{len(hits)})" if len(got) < len(hits) else "")


def _config(c: dict[str, float]) -> str:
    short = {
        "batcher.batch_size": "batch",
        "batcher.flush_ms": "flush",
        "worker.replicas": "worker replicas",
        "worker.concurrency": "worker concurrency",
        "gateway.replicas": "gateway replicas",
    }
    return ", ".join(f"{short[k]} {c[k]:g}" for k in short if k in c)


def setup_line(name: str, s: dict[str, Any]) -> str:
    d, lim, plim = s["defaults"], s["limit"], s["proved_limit"]
    load = s["load"]
    at = (
        f"{load['rps']:g} req/s"
        if load["rps"] == load["peak_rps"]
        else (f"{load['rps']:g} -> {load['peak_rps']:g} req/s")
    )
    cores = f", {s['worker_cores']} CPUs per worker replica" if s["worker_cores"] else ""
    text = (
        f"`{name}` ({at}{cores}, latency bound {s['latency_max_ms']:g} ms; defaults: p99 "
        f"{d['p99_ms']:.1f} ms, {d['throughput_rps']:.1f} req/s, cost {d['cost']:g}; limit "
        f"{lim['score']:.3f}"
        + (f", unsafe: breaks {', '.join(lim['unsafe'])}" if lim["unsafe"] else ", proved")
        + f" ({_config(lim['config'])}); proved limit {plim['score']:.3f} "
        f"({_config(plim['config'])}, p99 {plim['metrics']['latency_ms']:.1f} ms, cost "
        f"{plim['metrics']['cost']:g})"
    )
    b = plim.get("before_shift")
    if b:
        text += (
            f"; the proved limit at {b['rps']:g} req/s, before the shift, kept unchanged "
            f"after it: {b['share_of_proved_limit']:.1%} of the proved limit"
        )
    return text + "):"


def method_table(s: dict[str, Any]) -> list[str]:
    rows = [HEADER, "| " + " | ".join(["---"] * 13) + " |"]
    best_online = max(r["mean_online_score"] for r in s["methods"].values())
    for m, r in s["methods"].items():
        safe = m in GUARDED or m.startswith("ppo_guarded")

        def bold(text: str, on: bool = safe) -> str:
            return f"**{text}**" if on else text

        online = f"{r['mean_online_score']:.3f}"
        is_end = m.startswith("ppo")
        rows.append(
            "| "
            + " | ".join(
                [
                    LABELS.get(m, m),
                    pct(r["share_of_limit"]),
                    f"{pct(r['share_of_proved_limit'])} [{r['share_of_proved_limit_min']:.2f}, "
                    f"{r['share_of_proved_limit_max']:.2f}]",
                    f"{pct(r['spec_share_of_proved_limit'])}"
                    + (
                        f" [{r['spec_share_of_proved_limit_min']:.2f}, "
                        f"{r['spec_share_of_proved_limit_max']:.2f}]"
                        if m != "defaults"
                        else ""
                    ),
                    pct(r["end_share_of_proved_limit"]) if is_end else "",
                    pct(r["p99_reduction"]),
                    f"{r['throughput_gain'] * 100:.1f}%",
                    reach(r["windows_to_95pct_of_proved_limit"]),
                    bold(online, r["mean_online_score"] == best_online),
                    bold(f"{r['unsafe_configs_applied']}/{r['distinct_configs_applied']}"),
                    bold(f"{r['windows_in_unsafe_configs']}/{r['windows']}"),
                    bold(f"{r['final_configs_unsafe']}/{r['seeds']}"),
                    f"{r['step_breaches']}/{r['windows'] - r['seeds']}",
                ]
            )
            + " |"
        )
    return rows


PAIRS = {
    "ppo_guarded_rollback vs optuna_guarded": "PPO + guardrail + rollback vs Optuna TPE + guardrail",
    "ppo_guarded_rollback vs optuna_guarded_step": (
        "PPO + guardrail + rollback vs Optuna TPE + guardrail, step-limited"
    ),
    "ppo_guarded_rollback vs optuna_tpe": (
        "PPO + guardrail + rollback vs Optuna TPE (its best in-spec trial)"
    ),
    "ppo_guarded vs optuna_guarded": "PPO + guardrail vs Optuna TPE + guardrail",
    "ppo_guarded_rollback_model vs optuna_guarded": (
        "the default (model + restart) vs Optuna TPE + guardrail"
    ),
    "ppo_guarded_rollback_model vs ppo_guarded_rollback": (
        "the default (model + restart) vs the same without model and restart"
    ),
}


def head_to_head(scenarios: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | pair | mean difference | 95% interval | wins / ties / losses |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, s in scenarios.items():
        for pair, h in s["head_to_head"].items():
            rows.append(
                f"| {name} | {PAIRS.get(pair, pair)} | {h['mean_diff']:+.3f} | "
                f"{h['ci95'][0]:+.3f} .. {h['ci95'][1]:+.3f} | "
                f"{h['wins']} / {h['ties']} / {h['losses']} |"
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="tuning.json written by benchmarks/tuning.py")
    args = ap.parse_args(argv)
    try:
        data = json.loads(args.results.read_text(encoding="utf-8"))
        scenarios = data["scenarios"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        ap.error(f"{args.results}: not a tuning.json of benchmarks/tuning.py ({err})")
    print(f"Command: `{data['command']}`; {data['seconds']['total']:.0f} s in all.\n")
    for name, s in scenarios.items():
        print(setup_line(name, s) + "\n")
        print("\n".join(method_table(s)) + "\n")
    print("\n".join(head_to_head(scenarios)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
