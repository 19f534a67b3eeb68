"""``upir tune FILE --simulate``: PPO behind the Z3 guardrail, against the simulator.

Runs ``--episodes`` episodes of ``--windows`` decision windows on the UPIR's own
architecture in the simulator (``upir.tuning.simulated.SimulatedWorkload``; each
episode restarts the service at the UPIR's parameters; the learner keeps what
it learned). Every proposal goes through the guardrail;
only proved ones are applied. At the end the initial and the final parameters
are each run for a few windows on the same simulated arrivals and compared.

Output: a progress bar on a terminal (plain lines on stderr otherwise), then a
table; ``-o json|yaml`` (``--json``) prints one object instead; ``--plot PNG`` draws the metrics and
parameters over time with accepted and rejected proposals marked.

Exit codes: 0 done, 2 invalid input.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from upir.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format_options,
    print_output,
    read_one_upir,
)
from upir.cli.progress import ProgressBar
from upir.core.numbers import to_json_number
from upir.core.upir import UPIR
from upir.errors import FieldIssue, InvalidSpecError

if TYPE_CHECKING:
    from upir.tuning.learner import ArchitectureLearner
    from upir.tuning.settings import TuningSettings
    from upir.tuning.simulated import WindowRecord
    from upir.verification.guardrail import Guardrail

# upir.tuning pulls in PyTorch and scikit-learn (seconds to import), so it is
# imported when `upir tune` runs, not whenever the CLI starts (tests/unit/cli keep
# PROFILES equal to upir.tuning.simulated.PROFILES and check what start-up loads).
PROFILES = ("steady", "shift", "ramp")
"""Same as ``upir.tuning.simulated.PROFILES``."""

EVAL_WINDOWS = 3
SHOWN_METRICS = (
    ("latency_ms", "p99 latency (ms)"),
    ("throughput_rps", "throughput (req/s)"),
    ("error_rate", "error rate"),
    ("drop_rate", "drop rate"),
    ("cost", "cost"),
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tune", help="tune a UPIR's parameters with PPO behind the Z3 guardrail (simulator)"
    )
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON; - for stdin)")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="tune against the simulated architecture (required: live tuning is the operator's)",
    )
    p.add_argument("--episodes", type=int, default=3, help="episodes (default 3)")
    p.add_argument(
        "--windows", type=int, default=20, help="decision windows per episode (default 20)"
    )
    p.add_argument(
        "--window-s", type=float, default=10.0, help="simulated seconds per window (default 10)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the learner and simulator (default 0)"
    )
    p.add_argument(
        "--profile", choices=PROFILES, default="steady", help="offered load over an episode"
    )
    p.add_argument(
        "--rps",
        type=float,
        default=None,
        help="offered load, req/s (default: 60%% of the assumptions' env.arrival_rps bound, else 100)",
    )
    p.add_argument(
        "--peak-rps",
        type=float,
        default=None,
        help="load after the shift or at the top of the ramp (default: 1.5 x --rps, within the bound)",
    )
    p.add_argument(
        "--rollback",
        type=float,
        default=0.2,
        metavar="SHARE",
        help="go back to the best proved configuration when the score stays this share below "
        "it for 2 windows, as the operator does (default 0.2; 0 turns it off)",
    )
    p.add_argument(
        "--model",
        choices=("auto", "on", "off"),
        nargs="?",
        const="on",
        default="auto",
        help="the tuning benchmark's winner: learn also from imagined windows through a model "
        "of the score, given the offered load as context, and start afresh when the load "
        "jumps (TuningSettings.model; auto, the default: on, since the simulator reports its "
        "offered load; --model alone: on)",
    )
    p.add_argument(
        "--restart-on",
        metavar="METRIC",
        default=None,
        help="start learning afresh when this metric jumps by 1.5x either way "
        "(LearnerSettings.restart; default: offered_rps with the model, else never)",
    )
    add_format_options(p)
    p.add_argument("--plot", metavar="PNG", default=None, help="write a PNG plot of the run")
    p.set_defaults(run=run)


def _check_args(args: argparse.Namespace, upir: UPIR) -> tuple[float, float]:
    from upir.tuning.simulated import REPORTED_METRICS, arrival_bound

    issues: list[FieldIssue] = []
    if not args.simulate:
        issues.append(
            FieldIssue("--simulate", "required: `upir tune` runs against the simulator only")
        )
    for name, value, lo, hi in (
        ("--episodes", args.episodes, 1, 1000),
        ("--windows", args.windows, 1, 10000),
    ):
        if not lo <= value <= hi:
            issues.append(FieldIssue(name, f"must be between {lo} and {hi}, got {value}"))
    if not 0.1 <= args.window_s <= 3600:
        issues.append(FieldIssue("--window-s", "must be between 0.1 and 3600 seconds"))
    if args.seed < 0:
        issues.append(FieldIssue("--seed", "must be >= 0"))
    if not (0 <= args.rollback <= 10 and math.isfinite(args.rollback)):
        issues.append(FieldIssue("--rollback", "must be between 0 (off) and 10"))
    if args.restart_on is not None and args.restart_on not in REPORTED_METRICS:
        known = ", ".join(REPORTED_METRICS)
        issues.append(FieldIssue("--restart-on", f"not a metric the simulator reports ({known})"))
    bound = arrival_bound(upir)
    rps = args.rps if args.rps is not None else (0.6 * bound if bound else 100.0)
    peak = args.peak_rps if args.peak_rps is not None else 1.5 * rps
    if args.peak_rps is None and bound:
        peak = min(peak, bound)
    for name, value in (("--rps", rps), ("--peak-rps", peak)):
        if not 0 < value <= 100_000:
            issues.append(FieldIssue(name, f"must be in (0, 100000] req/s, got {value:g}"))
    if issues:
        raise InvalidSpecError(issues)
    return rps, peak


def settings_of(args: argparse.Namespace) -> TuningSettings:
    """The loop's settings from the options (validated by the one check)."""
    from upir.tuning.learner import LearnerSettings
    from upir.tuning.restart import RestartSettings
    from upir.tuning.settings import RollbackSettings, TuningSettings

    learner = LearnerSettings(restart=RestartSettings(metric=args.restart_on))
    st = TuningSettings(
        learner=learner,
        model={"auto": None, "on": True, "off": False}[args.model],
        seed=args.seed,
        rollback=RollbackSettings(enabled=args.rollback > 0, threshold=args.rollback or 0.2),
    )
    return st.validate()


def run(args: argparse.Namespace, ctx: Context) -> int:
    from upir.tuning.report import evaluate, plot_tuning
    from upir.tuning.simulated import (
        LOAD_METRIC,
        SimulatedWorkload,
        make_profile,
        params_after,
        tune,
    )
    from upir.tuning.step import new_learner
    from upir.verification import ProofCache, Verifier
    from upir.verification.guardrail import Guardrail

    try:
        upir = read_one_upir(args.file)
        rps, peak = _check_args(args, upir)
        settings = settings_of(args)
        total_s = args.windows * args.window_s
        profile = make_profile(args.profile, rps, peak, total_s)
        # Fails early, with exit 2, for an architecture the simulator cannot build.
        SimulatedWorkload(upir, profile, seed=args.seed, window_s=args.window_s)
    except InvalidSpecError as err:
        sys.stderr.write(f"{args.file}: cannot tune\n")
        for issue in err.issues:
            sys.stderr.write(f"  {issue}\n")
        return EXIT_INVALID
    start = time.perf_counter()
    verifier = Verifier(ctx.settings.solver, ProofCache(ctx.settings.cache.size))
    guardrail = Guardrail(verifier, upir)
    initial = upir.tunable_values()
    initial_check = guardrail.check(initial)
    if not initial_check.proved:
        sys.stderr.write(
            f"upir: warning: the initial parameters are not proved ({initial_check.message}); "
            "the operator synthesizes proved ones before tuning\n"
        )
    learner = new_learner(upir, settings, load=(LOAD_METRIC,), guardrail=guardrail)
    records: list[WindowRecord] = []
    with _Progress(args.episodes * args.windows, quiet=False) as progress:
        for ep in range(args.episodes):
            wl = SimulatedWorkload(
                upir, profile, seed=args.seed * 1009 + ep, window_s=args.window_s
            )
            records += tune(
                learner,
                wl,
                args.windows,
                guardrail=guardrail,
                settings=settings,
                episode=ep,
                on_window=progress.step,
            )
            progress.episode_done(ep, records[-1])
    final = params_after(records[-1])
    eval_seed = args.seed * 1009 + args.episodes
    before = evaluate(
        upir, initial, profile, seed=eval_seed, windows=EVAL_WINDOWS, window_s=args.window_s
    )
    after = evaluate(
        upir, final, profile, seed=eval_seed, windows=EVAL_WINDOWS, window_s=args.window_s
    )
    objective = learner.objective
    objective.set_baseline(before)
    result = _result(
        args, upir, records, initial, final, before, after, guardrail, learner, rps, peak
    )
    result["initial"]["proved"] = initial_check.proved
    result["initial"]["score"] = round(objective.score(before, initial), 6)
    result["final"]["score"] = round(objective.score(after, final), 6)
    result["timeMs"] = round((time.perf_counter() - start) * 1000.0, 1)
    if args.plot:
        try:
            plot_tuning(records, upir, args.plot, title=f"upir tune {upir.name} ({args.profile})")
        except InvalidSpecError as err:
            for issue in err.issues:
                sys.stderr.write(f"upir: {issue}\n")
            return EXIT_INVALID
        result["plot"] = args.plot
    if args.format is not None:
        print_output(result, args.format)
    else:
        _print_table(result)
    return EXIT_OK


def _numbers(values: dict[str, Fraction]) -> dict[str, int | float]:
    return {k: to_json_number(v) for k, v in values.items()}


def _result(
    args: argparse.Namespace,
    upir: UPIR,
    records: list[WindowRecord],
    initial: dict[str, Fraction],
    final: dict[str, Fraction],
    before: dict[str, float],
    after: dict[str, float],
    guardrail: Guardrail,
    learner: ArchitectureLearner,
    rps: float,
    peak: float,
) -> dict[str, Any]:
    stats = guardrail.stats()
    outcomes = [r.outcome for r in records]
    checks = [d for r in records for d in r.decisions]
    rejections = [
        {"episode": r.episode, "window": r.window, **d.to_json()}
        for r in records
        for d in r.decisions
        if not d.proved
    ]
    return {
        "status": "OK",
        "upir": upir.name,
        "seed": args.seed,
        "episodes": args.episodes,
        "windowsPerEpisode": args.windows,
        "windowSeconds": args.window_s,
        "profile": {"kind": args.profile, "rps": rps, "peakRps": peak},
        "initial": {"parameters": _numbers(initial), "metrics": _rounded(before)},
        "final": {"parameters": _numbers(final), "metrics": _rounded(after)},
        "proposals": {
            "windows": len(records),
            "checked": len(checks),
            "accepted": outcomes.count("accepted"),
            "rejected": sum(1 for d in checks if not d.proved),
            "unchanged": outcomes.count("unchanged"),
            "rolledBack": outcomes.count("rolled back"),
        },
        "guardrail": {
            "checks": stats.checks,
            "medianMs": round(stats.median_ms, 3),
            "p90Ms": round(stats.p90_ms, 3),
            "cached": stats.cached,
        },
        "learner": {
            k: v for k, v in learner.stats().items() if k not in ("lastUpdate", "lastImagined")
        },
        "rejections": rejections[-50:],
        "history": [r.to_json() for r in records],
    }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    init, fin = result["initial"], result["final"]
    table = Table(
        title=f"upir tune {result['upir']}: initial vs final ({EVAL_WINDOWS} windows each)"
    )
    table.add_column("")
    table.add_column("initial", justify="right")
    table.add_column("final", justify="right")
    table.add_column("change", justify="right")
    for name, value in init["parameters"].items():
        new = fin["parameters"][name]
        table.add_row(name, f"{value:g}", f"{new:g}", "" if new == value else "*")
    table.add_section()
    for key, label in SHOWN_METRICS:
        a, b = init["metrics"].get(key), fin["metrics"].get(key)
        if a is None or b is None:
            continue
        change = f"{(b - a) / a * 100:+.1f}%" if a else ""
        fmt = "{:.4f}" if key.endswith("_rate") else "{:.1f}"
        table.add_row(label, fmt.format(a), fmt.format(b), change)
    table.add_row("score", f"{init['score']:.3f}", f"{fin['score']:.3f}", "")
    console.print(table)
    p = result["proposals"]
    g = result["guardrail"]
    console.print(
        f"proposals: {p['accepted']} accepted, {p['rejected']} rejected by the guardrail, "
        f"{p['unchanged']} windows unchanged ({p['windows']} windows); guardrail median "
        f"{g['medianMs']:.1f} ms over {g['checks']} checks"
    )
    if not init.get("proved", True):
        console.print("warning: the initial parameters were not proved")
    if "plot" in result:
        console.print(f"plot: {result['plot']}")


class _Progress(ProgressBar):
    """The bar on a terminal; a plain line per episode otherwise (unless quiet)."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        super().__init__("tuning", total, enabled=sys.stderr.isatty() and not quiet)
        self.quiet = quiet

    def step(self, rec: WindowRecord) -> None:
        self.advance(f"p99 {rec.metrics['latency_ms']:.0f} ms, {rec.outcome}")

    def episode_done(self, episode: int, last: WindowRecord) -> None:
        if not self.enabled and not self.quiet:
            m = last.metrics
            sys.stderr.write(
                f"episode {episode + 1}: p99 {m['latency_ms']:.1f} ms, throughput "
                f"{m['throughput_rps']:.1f} req/s, error rate {m['error_rate']:.4f}\n"
            )
