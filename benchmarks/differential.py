"""Differential audits of the verifier at scale: PROVED must mean the same
however it is reached (DESIGN.md section 4).

Run from the repository root::

    python benchmarks/differential.py              # 300 generated UPIRs (tens of minutes on 2 cores)
    python benchmarks/differential.py --seeds 20    # a smoke test

For each seed, :func:`upir.verification.audit.random_upir` draws a UPIR (2 to 6
services, queues and batchers, random parameters, assumptions and properties)
and the four audits of :mod:`upir.verification.audit` run on it:

(a) ``check_params`` after a prior ``verify`` (warm caches, incremental
    composition) against a fresh verifier, for random single and joint
    parameter changes;
(b) all documents through one shared verifier in a random order against a
    fresh verifier each;
(c) every counterexample seen: complete, in the domains, every assumption
    true (evaluated exactly), replaying to a violation;
(d) every property against predicates equivalent on every state.

Prints the case counts per audit and every disagreement, and writes them to
``benchmarks/results/differential.json``. Pairs where one route ran out of
time are counted apart (``timeout``): a resource limit, not a verdict.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from upir.settings import SolverSettings
from upir.verification import MODEL_VERSION, Z3_VERSION
from upir.verification.audit import Tally, run_audits

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "differential.json"


def run(seeds: int, rounds: int, timeout_ms: int) -> dict[str, object]:
    start = time.perf_counter()

    def progress(done: int, tally: Tally) -> None:
        if done % 10 == 0 or done == seeds:
            elapsed = time.perf_counter() - start
            print(
                f"\r  {done}/{seeds} UPIRs, {len(tally.disagreements)} disagreements, "
                f"{elapsed:.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )

    settings = SolverSettings(timeout_ms=timeout_ms)
    tally = run_audits(range(seeds), settings, rounds=rounds, progress=progress)
    print(file=sys.stderr)
    return {
        "seeds": seeds,
        "rounds": rounds,
        "timeout_ms": timeout_ms,
        "upirs": seeds - tally.cases.get("invalid draw", 0),
        "cases": dict(sorted(tally.cases.items())),
        "disagreements": [asdict(d) for d in tally.disagreements],
        "seconds": round(time.perf_counter() - start, 1),
        "model": MODEL_VERSION,
        "z3": Z3_VERSION,
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=300, help="generated UPIRs (default 300)")
    parser.add_argument("--rounds", type=int, default=4, help="changes per UPIR (default 4)")
    parser.add_argument(
        "--timeout-ms", type=int, default=2000, help="Z3 limit per check, ms (default 2000)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.getLogger("upir").setLevel(logging.ERROR)
    figures = run(args.seeds, args.rounds, args.timeout_ms)
    print(f"UPIRs: {figures['upirs']} ({figures['seeds']} seeds), {figures['seconds']} s")
    cases = figures["cases"]
    assert isinstance(cases, dict)
    for audit, n in cases.items():
        print(f"  {audit:<16} {n:>7} cases")
    found = figures["disagreements"]
    assert isinstance(found, list)
    print(f"disagreements: {len(found)}")
    for d in found:
        print(f"  {d}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
