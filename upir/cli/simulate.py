"""``upir simulate FILE``: the UPIR's own architecture in the discrete-event simulator.

Runs ``--seconds`` of simulated time in windows of ``--window-s`` and reports,
per component and for the system, what was measured next to the range the
verifier's composed contracts prove for the same parameters
(:mod:`upir.simulator.bounds`), marking every measured value outside it.
The load: ``--rps`` requests/s into each entry point (default 60% of the
assumptions' ``env.arrival_rps`` bound, else 100), shaped by ``--profile``,
arriving as ``--arrivals`` (Poisson by default), or replayed from ``--trace``.

Output: a progress bar on a terminal for runs of several windows, then
tables; ``-o json|yaml`` (or ``--json``) prints one object; ``--plot PNG`` draws the windows.
Exit codes: 0 done, 2 invalid input.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
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
from upir.errors import FieldIssue, InvalidSpecError

if TYPE_CHECKING:  # the simulator (NumPy) loads only when the command runs
    from upir.core.upir import UPIR
    from upir.simulator import Arrivals, GraphWindow
    from upir.simulator.bounds import Check

PROFILES = ("steady", "shift", "ramp")
ARRIVALS = ("poisson", "constant", "mmpp")
"""upir.simulator.ARRIVAL_KINDS less ``trace`` (``--trace FILE`` selects it)."""
DISTRIBUTIONS = ("exponential", "uniform", "constant")
"""upir.simulator.DISTRIBUTIONS (a test keeps the two equal)."""
MAX_SECONDS = 86_400.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run a UPIR's architecture in the discrete-event simulator, beside its proved bounds",
    )
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON; - for stdin)")
    p.add_argument(
        "--rps",
        type=float,
        default=None,
        help="requests/s into each entry point (default: 60%% of the assumptions' "
        "env.arrival_rps bound, else 100)",
    )
    p.add_argument(
        "--peak-rps",
        type=float,
        default=None,
        help="load after the shift or at the top of the ramp (default 1.5 x --rps)",
    )
    p.add_argument("--profile", choices=PROFILES, default="steady", help="load over the run")
    p.add_argument(
        "--arrivals",
        choices=ARRIVALS,
        default="poisson",
        help="arrival process (default poisson; mmpp: bursty)",
    )
    p.add_argument(
        "--trace", metavar="FILE", default=None, help="replay arrival times (s, one a line)"
    )
    p.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        default="exponential",
        help="service times inside the assumed range (default exponential)",
    )
    p.add_argument(
        "--calls",
        metavar="SERVICE",
        action="append",
        default=[],
        help="a service whose attempts call its downstream path and wait for it (its timeout "
        "cuts the whole call; repeatable; docs/simulator.md)",
    )
    p.add_argument(
        "--cores",
        metavar="SERVICE=N",
        action="append",
        default=[],
        help="N CPUs per replica of SERVICE: calls beyond them are stretched, not parallel "
        "(CPU contention; repeatable; none by default; docs/simulator.md)",
    )
    p.add_argument("--seconds", type=float, default=60.0, help="simulated seconds (default 60)")
    p.add_argument("--window-s", type=float, default=10.0, help="seconds per window (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    add_format_options(p)
    p.add_argument("--plot", metavar="PNG", default=None, help="write a PNG plot of the windows")
    p.set_defaults(run=run)


def _load(args: argparse.Namespace, upir: UPIR) -> tuple[float, float, Arrivals]:
    from upir.simulator import Arrivals, read_trace
    from upir.simulator.network import assumed_arrival_rps

    issues: list[FieldIssue] = []
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= MAX_SECONDS):
        issues.append(FieldIssue("--seconds", f"must be in (0, {MAX_SECONDS:g}]"))
    if not (math.isfinite(args.window_s) and 0.1 <= args.window_s <= 3600):
        issues.append(FieldIssue("--window-s", "must be between 0.1 and 3600 seconds"))
    if args.seed < 0:
        issues.append(FieldIssue("--seed", "must be >= 0"))
    bound = assumed_arrival_rps(upir)
    rps = args.rps if args.rps is not None else (0.6 * bound if bound else 100.0)
    peak = args.peak_rps if args.peak_rps is not None else 1.5 * rps
    for name, value in (("--rps", rps), ("--peak-rps", peak)):
        if not (math.isfinite(value) and 0 <= value <= 100_000):
            issues.append(FieldIssue(name, f"must be in [0, 100000] req/s, got {value:g}"))
    if issues:
        raise InvalidSpecError(issues)
    if args.trace is not None:
        arrivals = Arrivals("trace", trace_s=read_trace(args.trace))
    else:
        arrivals = Arrivals(args.arrivals)
    return rps, peak, arrivals


def _cores(given: list[str]) -> dict[str, int]:
    """``--cores SERVICE=N`` options as ``{SERVICE: N}``; whether SERVICE is a
    service of the UPIR is checked by :func:`network_from_upir`."""
    from upir.simulator.network import MAX_CORES

    cores: dict[str, int] = {}
    issues: list[FieldIssue] = []
    for item in given:
        raw_name, sep, count = item.partition("=")
        name = raw_name.strip()
        if not sep or not name:
            issues.append(FieldIssue("--cores", f"expected SERVICE=N, got {item!r}"))
        elif not (re.fullmatch(r"[0-9]{1,6}", count.strip()) and 1 <= int(count) <= MAX_CORES):
            issues.append(
                FieldIssue("--cores", f"{name}: N must be an integer in [1, {MAX_CORES}]")
            )
        elif name in cores:
            issues.append(FieldIssue("--cores", f"{name} given twice"))
        else:
            cores[name] = int(count)
    if issues:
        raise InvalidSpecError(issues)
    return cores


def run(args: argparse.Namespace, ctx: Context) -> int:
    from upir.simulator import GraphSimulator, LoadProfile, network_from_upir
    from upir.simulator.bounds import compare, model_bounds

    try:
        upir = read_one_upir(args.file)
        rps, peak, arrivals = _load(args, upir)
        profile = LoadProfile.shaped(args.profile, rps, peak, args.seconds)
        cores = _cores(args.cores)
        network = network_from_upir(
            upir, distribution=args.distribution, calls=tuple(args.calls), cores=cores
        )
        sim = GraphSimulator(network, profile, arrivals=arrivals, seed=args.seed)
    except InvalidSpecError as err:
        sys.stderr.write(f"{args.file}: cannot simulate\n")
        for issue in err.issues:
            sys.stderr.write(f"  {issue}\n")
        return EXIT_INVALID
    started = time.perf_counter()
    total = max(1, math.ceil(args.seconds / args.window_s - 1e-9))
    with ProgressBar("simulating", total, enabled=sys.stderr.isatty() and total > 1) as bar:

        def step(w: GraphWindow) -> None:
            bar.advance(f"p99 {w.system.p99_ms:.0f} ms, {w.system.throughput_rps:.0f} req/s")

        windows = sim.run(args.seconds, args.window_s, on_window=step)
    wall = time.perf_counter() - started
    step_ms = float(ctx.settings.solver.step_ms)
    bounds = model_bounds(upir, ctx.settings.solver)
    types = {c.name: c.type for c in upir.architecture.components}
    checks = compare(windows, bounds, types, step_ms) if bounds is not None else []
    result = _result(
        args, upir, windows, checks, rps, peak, arrivals, cores, wall, bounds is not None
    )
    if args.plot:
        try:
            _plot(windows, types, args.plot, f"upir simulate {upir.name}")
        except InvalidSpecError as err:
            for issue in err.issues:
                sys.stderr.write(f"upir: {issue}\n")
            return EXIT_INVALID
        result["plot"] = args.plot
    if args.format is not None:
        print_output(result, args.format)
    else:
        _print(result, windows, types)
    return EXIT_OK


def _num(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def _summary(windows: list[GraphWindow]) -> dict[str, Any]:
    """The run as a whole: counts summed, rates over the whole time, latency
    percentiles the worst window's (so one bad window shows)."""
    span = sum(w.system.duration_s for w in windows)
    sysw = [w.system for w in windows]
    answered = sum(s.completed + s.errors + s.dropped + s.shed for s in sysw)
    completed = sum(s.completed for s in sysw)

    def worst(key: str) -> float | None:
        xs = [getattr(s, key) for s in sysw if math.isfinite(getattr(s, key))]
        return _num(max(xs)) if xs else None

    return {
        "offered_rps": _num(sum(s.arrivals for s in sysw) / span),
        "throughput_rps": _num(completed / span),
        "p50_ms": worst("p50_ms"),
        "p95_ms": worst("p95_ms"),
        "p99_ms": worst("p99_ms"),
        "error_rate": _num((answered - completed) / answered if answered else 0.0),
        "availability": _num(completed / answered if answered else 1.0),
        "errors": sum(s.errors for s in sysw),
        "dropped": sum(s.dropped for s in sysw),
        "shed": sum(s.shed for s in sysw),
        "arrivals": sum(s.arrivals for s in sysw),
        "completed": completed,
        "utilization": _num(max(s.utilization for s in sysw)),
        "cost": _num(sysw[-1].cost),
    }


def _component_summary(windows: list[GraphWindow], name: str) -> dict[str, Any]:
    cs = [w.components[name] for w in windows]
    span = sum(w.system.duration_s for w in windows)

    def worst(key: str) -> float | None:
        xs = [getattr(c, key) for c in cs if math.isfinite(getattr(c, key))]
        return _num(max(xs)) if xs else None

    batches = sum(c.batches for c in cs)
    out: dict[str, Any] = {
        "type": cs[0].type,
        "arrivals": sum(c.arrivals for c in cs),
        "throughput_rps": _num(
            sum(c.throughput_rps * w.system.duration_s for c, w in zip(cs, windows, strict=True))
            / span
        ),
        "p50_ms": worst("p50_ms"),
        "p95_ms": worst("p95_ms"),
        "p99_ms": worst("p99_ms"),
        "errors": sum(c.errors for c in cs),
        "dropped": sum(c.dropped for c in cs),
        "shed": sum(c.shed for c in cs),
        "mean_length": _num(
            sum(c.mean_length * w.system.duration_s for c, w in zip(cs, windows, strict=True))
            / span
        ),
        "max_length": max(c.max_length for c in cs),
        "utilization": worst("utilization"),
        "retries": sum(c.retries for c in cs),
        "timeouts": sum(c.timeouts for c in cs),
        "batches": batches,
        "mean_batch_size": _num(
            sum(c.mean_batch_size * c.batches for c in cs) / batches if batches else 0.0
        ),
        "cost": _num(cs[-1].cost),
    }
    return out


def _result(
    args: argparse.Namespace,
    upir: UPIR,
    windows: list[GraphWindow],
    checks: list[Check],
    rps: float,
    peak: float,
    arrivals: Arrivals,
    cores: dict[str, int],
    wall: float,
    have_bounds: bool,
) -> dict[str, Any]:
    events = sum(w.system.events for w in windows)
    simulated = sum(w.system.duration_s for w in windows)
    components: dict[str, Any] = {}
    for c in upir.architecture.components:
        entry = _component_summary(windows, c.name)
        entry["checks"] = [k.to_json() for k in checks if k.component == c.name]
        components[c.name] = entry
    system = _summary(windows)
    system["checks"] = [k.to_json() for k in checks if k.component == "system"]
    return {
        "status": "OK",
        "upir": upir.name,
        "seed": args.seed,
        "seconds": simulated,
        "windowSeconds": args.window_s,
        "load": {
            "profile": args.profile,
            "rps": rps,
            "peakRps": peak if args.profile != "steady" else rps,
            "arrivals": arrivals.kind,
            "trace": args.trace,
        },
        "distribution": args.distribution,
        "calls": list(args.calls),
        "cores": cores,
        "bounds": "composed contracts (docs/model.md section 12)"
        if have_bounds
        else "none: the assumptions cannot be bounded",
        "beyond": [k.to_json() for k in checks if k.beyond],
        "system": system,
        "components": components,
        "windows": [w.as_dict() for w in windows],
        "speed": {
            "events": events,
            "wallSeconds": round(wall, 4),
            "eventsPerSecond": round(events / wall, 1) if wall > 0 else None,
            "simulatedSecondsPerWallSecond": round(simulated / wall, 2) if wall > 0 else None,
        },
    }


def _fmt(x: float | None, metric: str) -> str:
    if x is None:
        return "-"
    if metric in ("availability", "error_rate") or metric.endswith("_rate"):
        return f"{x:.6f}"
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.3e}"


def _print(result: dict[str, Any], windows: list[GraphWindow], types: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    load = result["load"]
    title = (
        f"upir simulate {result['upir']}: {result['seconds']:g} s, {load['arrivals']} arrivals, "
        f"{load['profile']} {load['rps']:g} req/s, seed {result['seed']}"
    )
    if result["calls"]:
        title += f", calls: {', '.join(result['calls'])}"
    if result["cores"]:
        title += ", cores: " + ", ".join(f"{k}={v}" for k, v in result["cores"].items())
    table = Table(title=title)
    for col in ("component", "measured", "value", "proved bound", "range", ""):
        table.add_column(
            col, justify="left" if col in ("component", "measured", "proved bound") else "right"
        )
    rows: list[tuple[str, dict[str, Any]]] = [(n, result["components"][n]) for n in types]
    rows.append(("system", result["system"]))
    for name, entry in rows:
        for k in entry["checks"]:
            lo = "-inf" if k["lo"] is None else _fmt(k["lo"], k["metric"])
            hi = "inf" if k["hi"] is None else _fmt(k["hi"], k["metric"])
            mark = "[bold red]BEYOND[/]" if k["beyond"] else "ok"
            table.add_row(
                name,
                k["metric"],
                _fmt(k["measured"], k["metric"]),
                k["bound"],
                f"[{lo}, {hi}]",
                mark,
            )
        table.add_section()
    console.print(table)
    flows = Table(title="measured over the run (latency: the worst window)")
    for col in (
        "component",
        "type",
        "in",
        "out/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "dropped",
        "shed",
        "max len",
        "util",
        "batch",
    ):
        flows.add_column(col, justify="left" if col in ("component", "type") else "right")
    for name, entry in rows:
        flows.add_row(
            name,
            entry.get("type", ""),
            str(entry["arrivals"]),
            _fmt(entry["throughput_rps"], "rps"),
            _fmt(entry["p50_ms"], "ms"),
            _fmt(entry["p99_ms"], "ms"),
            str(entry["errors"]),
            str(entry["dropped"]),
            str(entry["shed"]),
            str(entry.get("max_length", "")),
            _fmt(entry["utilization"], "u"),
            _fmt(entry.get("mean_batch_size"), "b") if entry.get("batches") else "",
        )
    console.print(flows)
    speed = result["speed"]
    beyond = result["beyond"]
    console.print(
        f"{len(beyond)} measured value(s) beyond the proved bounds; "
        f"{speed['events']} events, {speed['eventsPerSecond']} events/s, "
        f"{speed['simulatedSecondsPerWallSecond']} simulated s per wall s"
    )
    if "plot" in result:
        console.print(f"plot: {result['plot']}")


def _plot(windows: list[GraphWindow], types: dict[str, str], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [w.system.start_s + w.system.duration_s for w in windows]
    fig, axes = plt.subplots(4, 1, figsize=(10, 9), sharex=True)
    axes[0].plot(xs, [w.system.p50_ms for w in windows], label="p50")
    axes[0].plot(xs, [w.system.p99_ms for w in windows], label="p99")
    axes[0].set_ylabel("latency (ms)", fontsize=8)
    axes[0].legend(fontsize=7)
    axes[1].plot(xs, [w.system.throughput_rps for w in windows], label="throughput")
    axes[1].plot(
        xs, [w.system.offered_rps for w in windows], linestyle=":", color="gray", label="offered"
    )
    axes[1].set_ylabel("req/s", fontsize=8)
    axes[1].legend(fontsize=7)
    axes[2].plot(xs, [w.system.error_rate for w in windows], color="tab:red")
    axes[2].set_ylabel("error rate", fontsize=8)
    for name, ctype in types.items():
        if ctype in ("queue", "batcher") or any(
            w.components[name].mean_length > 0 for w in windows
        ):
            axes[3].plot(xs, [w.components[name].mean_length for w in windows], label=name)
    axes[3].set_ylabel("mean waiting", fontsize=8)
    axes[3].set_xlabel("simulated time (s)", fontsize=8)
    if axes[3].get_legend_handles_labels()[0]:
        axes[3].legend(fontsize=7)
    fig.suptitle(title)
    try:
        fig.savefig(path, dpi=100)
    except OSError as err:
        raise InvalidSpecError(
            [FieldIssue("--plot", f"cannot write {path}: {err.strerror or err}")]
        ) from None
    finally:
        plt.close(fig)
