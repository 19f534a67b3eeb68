"""``upir verify FILE [--json]``: a verdict per property (DESIGN.md section 5).

Exit codes: 0 every property PROVED, 1 any VIOLATED, 2 invalid input, 3 anything
else inconclusive (UNKNOWN, TIMEOUT, ERROR) and nothing violated.

Human output: one line per property with the verdict, the kind of proof, the time
and whether it came from the cache; a violation adds the counterexample's
environment. ``--json`` prints one object: ``{"results": [{"property", "status",
"counterexample", "timeMs", "cached", "proof", ...}], ...}``.
"""

from __future__ import annotations

import argparse
from typing import Any

from upir.cli.common import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INVALID,
    EXIT_OK,
    Context,
    print_json,
    read_upirs,
    report_invalid,
)
from upir.errors import InvalidSpecError
from upir.verification import ProofCache, Verdict, VerificationReport, VerificationResult, Verifier


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help="prove or refute every property of a UPIR with Z3")
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--no-compose",
        action="store_true",
        help="skip the compositional fast path (every property checked monolithically)",
    )
    p.set_defaults(run=run)


def exit_code(reports: list[VerificationReport]) -> int:
    statuses = [r.status for report in reports for r in report.results]
    if any(s is Verdict.VIOLATED for s in statuses):
        return EXIT_FAILED
    if any(s is not Verdict.PROVED for s in statuses):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def _line(r: VerificationResult) -> str:
    proof = f"{r.proof}, {r.method}" if r.proof else r.method
    cached = ", cached" if r.cached else ""
    text = f"{r.status.value:<9} {r.property.name}  ({proof}{cached}) {r.time_ms:.0f}ms"
    if r.status is Verdict.VIOLATED and r.counterexample is not None:
        cex = r.counterexample
        where = "every environment" if not any(cex.env) else cex.describe_env()
        text += f"\n          counterexample: {where}"
        if cex.violated_at is not None and not cex.constant:
            text += f" (violated at step {cex.violated_at})"
        elif cex.violated_at is not None and cex.violated_at > 0:
            text += f" held constant; violated at step {cex.violated_at}"
    elif r.status is not Verdict.PROVED and r.message:
        text += f"\n          {r.message}"
    return text


def run(args: argparse.Namespace, ctx: Context) -> int:
    try:
        upirs = read_upirs(args.file)
    except InvalidSpecError as err:
        report_invalid(args.file, err)
        return EXIT_INVALID
    cache = ProofCache(ctx.settings.cache.size)
    verifier = Verifier(ctx.settings.solver, cache, compositional=not args.no_compose)
    reports = [verifier.verify(u) for u in upirs]
    if args.json:
        results: list[dict[str, Any]] = []
        for u, report in zip(upirs, reports, strict=True):
            for r in report.results:
                results.append({"upir": u.name, **r.to_json()})
        warnings = [w for report in reports for w in report.warnings]
        print_json(
            {
                "results": results,
                "status": _overall(reports).value,
                "timeMs": round(sum(r.time_ms for r in reports), 3),
                "warnings": warnings,
            }
        )
    else:
        for u, report in zip(upirs, reports, strict=True):
            counts = report.counts()
            summary = ", ".join(f"{n} {k.lower()}" for k, n in counts.items() if n)
            print(
                f"{args.file}: UPIR {u.name!r}: {summary or 'no properties'} ({report.time_ms:.0f}ms)"
            )
            for warning in report.warnings:
                print(f"  warning: {warning}")
            for r in report.results:
                print("  " + _line(r))
    return exit_code(reports)


def _overall(reports: list[VerificationReport]) -> Verdict:
    code = exit_code(reports)
    if code == EXIT_OK:
        return Verdict.PROVED
    if code == EXIT_FAILED:
        return Verdict.VIOLATED
    worst = [
        r.status for report in reports for r in report.results if r.status is not Verdict.PROVED
    ]
    return worst[0]
