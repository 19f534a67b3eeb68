"""``upir verify FILE... [-o json|yaml|junit|sarif]``: a verdict per property
(DESIGN.md section 5).

Exit codes: 0 every property PROVED, 1 any VIOLATED, 2 invalid input (in any
file), 3 anything else inconclusive (UNKNOWN, TIMEOUT, ERROR) and nothing
violated. ``-`` reads standard input.

Human output: one line per property with the verdict, the kind of proof, the time
and whether it came from the cache; a violation adds the predicate's
comparisons evaluated at the failing step (``800 * (2 + 1) = 2400 <= 2000`` is
shown as the quantities and their values), the step and the counterexample's
environment. Verdicts are not logged again on stderr (``UPIR_LOG_LEVEL=DEBUG``
shows them as log lines).

``-o json`` (``--json``) prints one object: ``{"results": [{"file", "upir",
"property", "status", "counterexample", "violation", "timeMs", "cached", "proof",
...}], "status", "timeMs", "warnings", "errors"}``; invalid input gives
``status: INVALID_SPEC`` and ``errors: [{"file", "field", "message",
"position"}]``. ``-o yaml`` is the same object as YAML. ``-o junit`` and ``-o
sarif`` print a JUnit XML or SARIF report instead (:mod:`upir.cli.reports`);
``--junit FILE`` and ``--sarif FILE`` write them next to any other output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upir.cli.common import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format_options,
    display_name,
    issues_json,
    print_output,
    read_text,
    report_invalid,
    upir_documents,
)
from upir.cli.reports import Checked, FileOutcome, junit_xml, sarif
from upir.errors import InvalidSpecError

if TYPE_CHECKING:
    from upir.verification import VerificationResult, Verifier

REPORT_FORMATS = ("junit", "sarif")
"""Formats beyond json and yaml: CI reports (:mod:`upir.cli.reports`)."""

ExplainKey = tuple[int, int, str]
"""(file index, document index, property name)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help="prove or refute every property of a UPIR with Z3")
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="UPIR resources (YAML or JSON; - for stdin)"
    )
    add_format_options(p, extra=REPORT_FORMATS)
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report here")
    p.add_argument("--sarif", metavar="FILE", help="also write a SARIF report here")
    p.add_argument(
        "--no-compose",
        action="store_true",
        help="skip the compositional fast path (every property checked monolithically)",
    )
    p.set_defaults(run=run)


def exit_code(outcomes: list[FileOutcome]) -> int:
    if any(o.invalid is not None for o in outcomes):
        return EXIT_INVALID
    statuses = [r.status.value for o in outcomes for c in o.checked for r in c.report.results]
    if "VIOLATED" in statuses:
        return EXIT_FAILED
    if any(s != "PROVED" for s in statuses):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def check_file(path: str, verifier: Verifier, *, want_lines: bool) -> FileOutcome:
    """Read, validate and verify every UPIR of one file."""
    from upir.core import UPIR
    from upir.resource import field_line, load_documents

    name = display_name(path)
    outcome = FileOutcome(name)
    text = ""
    try:
        text = read_text(path)
        docs = load_documents(text, source=name)
        entries = upir_documents(docs, name)
    except InvalidSpecError as err:
        outcome.invalid = err
        return outcome
    upirs = []
    for index, doc in entries:
        try:
            upirs.append((index, UPIR.from_resource(doc)))
        except InvalidSpecError as err:
            outcome.invalid, outcome.invalid_document = err, index
            break
    if outcome.invalid is None:
        for index, u in upirs:
            try:  # the verifier may refuse a spec the loader accepted
                report = verifier.verify(u, quiet=True)
            except InvalidSpecError as err:
                outcome.invalid, outcome.invalid_document = err, index
                outcome.checked.clear()
                break
            outcome.checked.append(Checked(index, u, report))
    if want_lines:
        fields: list[tuple[int, str]] = [
            (c.document, r.property.field) for c in outcome.checked for r in c.report.results
        ]
        if outcome.invalid is not None:
            fields += [(outcome.invalid_document, i.field) for i in outcome.invalid.issues]
        for document, f in fields:
            line = field_line(text, f, document=document) if f else None
            if line is not None:
                outcome.lines[(document, f)] = line
    return outcome


def violation_lines(r: VerificationResult) -> list[str]:
    """What a violated property's predicate computes at the failing step."""
    from upir.verification.explain import describe_violation

    if r.counterexample is None:
        return []
    return describe_violation(r.property, r.counterexample)


def _line(r: VerificationResult, explanation: list[str]) -> str:
    proof = f"{r.proof}, {r.method}" if r.proof else r.method
    cached = ", cached" if r.cached else ""
    text = f"{r.status.value:<9} {r.property.name}  ({proof}{cached}) {r.time_ms:.0f}ms"
    pad = "\n          "
    if r.status.value == "VIOLATED" and r.counterexample is not None:
        cex = r.counterexample
        for line in explanation:
            text += pad + line
        where = "every environment" if not any(cex.env) else cex.describe_env()
        text += f"{pad}counterexample: {where}"
        if cex.violated_at is not None and not cex.constant:
            text += f" (violated at step {cex.violated_at})"
        elif cex.violated_at is not None and cex.violated_at > 0:
            text += f" held constant; violated at step {cex.violated_at}"
    elif r.status.value != "PROVED" and r.message:
        text += f"{pad}{r.message}"
    return text


def run(args: argparse.Namespace, ctx: Context) -> int:
    from upir.verification import ProofCache, Verifier

    cache = ProofCache(ctx.settings.cache.size)
    verifier = Verifier(ctx.settings.solver, cache, compositional=not args.no_compose)
    if args.files.count("-") > 1:
        sys.stderr.write("upir: standard input (-) can be read only once\n")
        return EXIT_INVALID
    fmt = args.format
    # line numbers cost a second parse of each file: only for the reports that show them
    want_lines = bool(args.sarif or args.junit) or fmt in REPORT_FORMATS
    outcomes = [check_file(path, verifier, want_lines=want_lines) for path in args.files]
    explain: dict[ExplainKey, list[str]] = {}
    for fi, o in enumerate(outcomes):
        for c in o.checked:
            for r in c.report.results:
                if r.status.value == "VIOLATED":
                    explain[(fi, c.document, r.property.name)] = violation_lines(r)
    for o in outcomes:
        if o.invalid is not None:
            report_invalid(o.name, o.invalid)
    code = exit_code(outcomes)
    for option, render in ((args.junit, junit_xml), (args.sarif, sarif)):
        if option:
            try:
                Path(option).write_text(render(outcomes, explain), encoding="utf-8")
            except OSError as err:
                sys.stderr.write(f"upir: cannot write {option}: {err.strerror or err}\n")
                code = EXIT_INVALID
    if fmt == "junit":
        sys.stdout.write(junit_xml(outcomes, explain))
    elif fmt == "sarif":
        sys.stdout.write(sarif(outcomes, explain))
    elif fmt is not None:
        print_output(_machine(outcomes, explain, code), fmt)
    else:
        _print_human(outcomes, explain)
    return code


def _machine(
    outcomes: list[FileOutcome], explain: dict[ExplainKey, list[str]], code: int
) -> dict[str, Any]:
    from upir.verification.explain import explain_violation

    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    warnings: list[str] = []
    time_ms = 0.0
    for o in outcomes:
        if o.invalid is not None:
            errors += [{"file": o.name, **e} for e in issues_json(o.invalid)]
        for c in o.checked:
            time_ms += c.report.time_ms
            warnings += c.report.warnings
            for r in c.report.results:
                entry: dict[str, Any] = {"file": o.name, "upir": c.upir.name, **r.to_json()}
                cex = r.counterexample
                entry["violation"] = (
                    explain_violation(r.property, cex).to_json()
                    if r.status.value == "VIOLATED" and cex is not None
                    else None
                )
                results.append(entry)
    return {
        "results": results,
        "status": _overall(outcomes, code),
        "timeMs": round(time_ms, 3),
        "warnings": warnings,
        "errors": errors,
    }


def _overall(outcomes: list[FileOutcome], code: int) -> str:
    if code == EXIT_INVALID:
        return "INVALID_SPEC"
    if code == EXIT_OK:
        return "PROVED"
    if code == EXIT_FAILED:
        return "VIOLATED"
    worst = [
        r.status.value
        for o in outcomes
        for c in o.checked
        for r in c.report.results
        if r.status.value != "PROVED"
    ]
    return worst[0]


def _print_human(outcomes: list[FileOutcome], explain: dict[ExplainKey, list[str]]) -> None:
    for fi, o in enumerate(outcomes):
        for c in o.checked:
            counts = c.report.counts()
            summary = ", ".join(f"{n} {k.lower()}" for k, n in counts.items() if n)
            print(
                f"{o.name}: UPIR {c.upir.name!r}: {summary or 'no properties'} "
                f"({c.report.time_ms:.0f}ms)"
            )
            for warning in c.report.warnings:
                print(f"  warning: {warning}")
            for r in c.report.results:
                print("  " + _line(r, explain.get((fi, c.document, r.property.name), [])))
