"""Start-up of the ``upir`` command, per command, against ``python -c "import z3"``.

Run from the repository root::

    .venv/bin/python benchmarks/startup.py              # 15 rounds
    .venv/bin/python benchmarks/startup.py --rounds 5   # quicker

Every round runs the baseline and every command once each, in a shuffled order
(so load from other work on the machine falls on all of them alike), as fresh
processes of the installed console script, and takes the wall-clock time from
start to exit. The figures are the median over the rounds and each command's
ratio to the baseline's median; the fastest run and its ratio to the baseline's
fastest (less sensitive to load from other work); and the peak resident memory
of one more run (``ru_maxrss`` of the child). The verify row includes its 6 proofs, so it
is start-up plus about 20 ms of verification.

Target (issue 25): ``validate`` and ``verify`` within 3x of the baseline.
Prints a table and writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
EXAMPLE = "examples/api-service.yaml"
UPIR = str(Path(sys.executable).parent / "upir")
TARGET_RATIO = 3.0
"""validate and verify start within this multiple of the baseline."""

COMMANDS: dict[str, list[str]] = {
    "baseline: python -c 'import z3'": [sys.executable, "-c", "import z3"],
    "upir --help": [UPIR, "--help"],
    "upir validate": [UPIR, "validate", EXAMPLE],
    "upir verify": [UPIR, "verify", EXAMPLE],
    "upir synthesize --help": [UPIR, "synthesize", "--help"],
    "upir tune --help": [UPIR, "tune", "--help"],
}
BASELINE = next(iter(COMMANDS))
CHECKED = ("upir validate", "upir verify")


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The children's environment: bytecode caching on, as for an installed package
(pip writes ``.pyc`` files at install time; with PYTHONDONTWRITEBYTECODE set,
every run would compile upir's sources again while z3's come precompiled)."""


def _run(argv: list[str]) -> float:
    """Wall seconds of one child process, from start to exit."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[:500]!r}")
    return elapsed


def measure(rounds: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for argv in COMMANDS.values():  # warm the page and bytecode caches, not measured
        _run(argv)
    for _ in range(rounds):
        order = list(COMMANDS)
        rng.shuffle(order)
        for name in order:
            times[name].append(_run(COMMANDS[name]))
    base = statistics.median(times[BASELINE])
    base_min = min(times[BASELINE])
    rows = {}
    for name, samples in times.items():
        med = statistics.median(samples)
        rows[name] = {
            "median_s": round(med, 4),
            "min_s": round(min(samples), 4),
            "max_s": round(max(samples), 4),
            "ratio_to_baseline": round(med / base, 2),
            "min_ratio_to_baseline": round(min(samples) / base_min, 2),
            "peak_rss_mib": round(_max_rss_kib(COMMANDS[name]) / 1024, 1),
        }
    return rows


def _max_rss_kib(argv: list[str]) -> int:
    """Peak resident memory of one run, KiB, measured in a wrapper process so the
    figure is this command's alone."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15, help="repetitions per command (15)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the run order (0)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rows = measure(args.rounds, args.seed)
    width = max(len(n) for n in rows)
    print(f"{'command':<{width}}  median    ratio  fastest  ratio  peak RSS")
    for name, row in rows.items():
        print(
            f"{name:<{width}}  {row['median_s'] * 1000:6.0f} ms  {row['ratio_to_baseline']:5.2f}x"
            f"  {row['min_s'] * 1000:4.0f} ms  {row['min_ratio_to_baseline']:5.2f}x"
            f"  {row['peak_rss_mib']:6.1f} MiB"
        )
    within = {name: rows[name]["ratio_to_baseline"] <= TARGET_RATIO for name in CHECKED}
    results = {
        "command": "python benchmarks/startup.py"
        + (f" --rounds {args.rounds}" if args.rounds != 15 else ""),
        "rounds": args.rounds,
        "target_ratio": TARGET_RATIO,
        "within_target": within,
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "commands": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(within.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
