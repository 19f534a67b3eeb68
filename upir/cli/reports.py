"""CI report formats of ``upir verify``: JUnit XML and SARIF 2.1.0.

JUnit XML: one ``<testsuite>`` per UPIR (``FILE: name``), one ``<testcase>`` per
property; only ``PROVED`` passes: ``VIOLATED`` is a ``<failure>``, ``UNKNOWN``,
``TIMEOUT`` and ``ERROR`` are an ``<error>`` (never a skip, which CI views count
as neither pass nor fail). A file that is not valid input is one suite with one
``validate`` test case in error naming every field at fault. GitLab
(``artifacts:reports:junit``), Jenkins (``junit``) and GitHub test reporters show
this natively.

SARIF: one result per property that is not ``PROVED`` and per invalid field,
located at the YAML line of the property (``spec.specification.invariants[i]``,
``properties[i]``, ``constraints.<key>``) or of the field, so code-scanning
views (GitHub ``upload-sarif``, GitLab, VS Code's SARIF viewer) annotate it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from upir import __version__
from upir.errors import InvalidSpecError

if TYPE_CHECKING:
    from upir.core import UPIR
    from upir.verification import VerificationReport, VerificationResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://upir.dev"

RULES = (
    (
        "upir/violated",
        "PropertyViolated",
        "A property is VIOLATED: a counterexample exists",
        "error",
    ),
    (
        "upir/inconclusive",
        "PropertyNotProved",
        "A property is neither proved nor refuted (UNKNOWN, TIMEOUT or ERROR); only PROVED passes",
        "warning",
    ),
    ("upir/invalid", "InvalidSpec", "The resource is not a valid UPIR", "error"),
)


@dataclass
class Checked:
    """One UPIR of a file and its verdicts; ``document`` is its 0-based index
    among the file's documents (for line numbers)."""

    document: int
    upir: UPIR
    report: VerificationReport


@dataclass
class FileOutcome:
    """What ``upir verify`` found for one input file. ``name`` is how it is
    shown (``<stdin>`` for ``-``); ``lines`` maps a field path of a document
    (``(document, field)``) to its 1-based line."""

    name: str
    checked: list[Checked] = field(default_factory=list)
    invalid: InvalidSpecError | None = None
    invalid_document: int = 0
    lines: dict[tuple[int, str], int] = field(default_factory=dict)

    def line(self, document: int, path: str) -> int | None:
        return self.lines.get((document, path))


def result_text(r: VerificationResult, explanation: list[str]) -> str:
    """The verdict of one property in a few lines (the failure's message)."""
    head = f"{r.status.value}: {r.property.name}"
    if r.message:
        head += f": {r.message}"
    return "\n".join([head, *explanation])


# ---------------------------------------------------------------------- JUnit


def junit_xml(outcomes: list[FileOutcome], explain: dict[tuple[int, int, str], list[str]]) -> str:
    """The JUnit XML document. ``explain`` maps ``(file index, document,
    property)`` to the human lines of a violation."""
    from xml.etree import ElementTree as ET  # only when a JUnit report is asked for

    root = ET.Element("testsuites", name="upir verify")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for fi, outcome in enumerate(outcomes):
        if outcome.invalid is not None:
            suite = _suite(
                root, outcome.name, outcome.name, tests=1, failures=0, errors=1, time=0.0
            )
            case = ET.SubElement(
                suite, "testcase", classname=outcome.name, name="validate", time="0"
            )
            case.set("file", outcome.name)
            err = ET.SubElement(
                case, "error", type="INVALID_SPEC", message=f"{outcome.name}: invalid UPIR"
            )
            err.text = "\n".join(str(i) for i in outcome.invalid.issues)
            totals["tests"] += 1
            totals["errors"] += 1
            continue
        for c in outcome.checked:
            results = c.report.results
            failures = sum(1 for r in results if r.status.value == "VIOLATED")
            errors = sum(1 for r in results if r.status.value not in ("VIOLATED", "PROVED"))
            seconds = c.report.time_ms / 1000.0
            suite = _suite(
                root,
                f"{outcome.name}: {c.upir.name}",
                outcome.name,
                tests=len(results),
                failures=failures,
                errors=errors,
                time=seconds,
            )
            for r in results:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=f"upir.{c.upir.name}",
                    name=r.property.name,
                    time=f"{r.time_ms / 1000.0:.3f}",
                )
                case.set("file", outcome.name)
                line = outcome.line(c.document, r.property.field)
                if line is not None:
                    case.set("line", str(line))
                if r.status.value == "PROVED":
                    out = ET.SubElement(case, "system-out")
                    out.text = f"PROVED ({r.proof}, {r.method})"
                    continue
                tag = "failure" if r.status.value == "VIOLATED" else "error"
                lines = explain.get((fi, c.document, r.property.name), [])
                node = ET.SubElement(
                    case, tag, type=r.status.value, message=f"{r.status.value}: {r.property.name}"
                )
                node.text = result_text(r, lines)
            totals["tests"] += len(results)
            totals["failures"] += failures
            totals["errors"] += errors
            totals["time"] += seconds
    for key in ("tests", "failures", "errors"):
        root.set(key, str(int(totals[key])))
    root.set("time", f"{totals['time']:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(
    root: Any, name: str, file: str, *, tests: int, failures: int, errors: int, time: float
) -> Any:
    from xml.etree import ElementTree as ET

    return ET.SubElement(
        root,
        "testsuite",
        name=name,
        file=file,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{time:.3f}",
    )


# ---------------------------------------------------------------------- SARIF


def sarif(outcomes: list[FileOutcome], explain: dict[tuple[int, int, str], list[str]]) -> str:
    """The SARIF 2.1.0 log (one run), as JSON text."""
    results: list[dict[str, Any]] = []
    for fi, outcome in enumerate(outcomes):
        uri = _uri(outcome.name)
        if outcome.invalid is not None:
            for issue in outcome.invalid.issues:
                line = outcome.line(outcome.invalid_document, issue.field)
                results.append(
                    _result("upir/invalid", "error", str(issue), uri, line, {"field": issue.field})
                )
            continue
        for c in outcome.checked:
            for r in c.report.results:
                if r.status.value == "PROVED":
                    continue
                violated = r.status.value == "VIOLATED"
                lines = explain.get((fi, c.document, r.property.name), [])
                results.append(
                    _result(
                        "upir/violated" if violated else "upir/inconclusive",
                        "error" if violated else "warning",
                        f"UPIR {c.upir.name!r}: " + result_text(r, lines),
                        uri,
                        outcome.line(c.document, r.property.field),
                        {
                            "upir": c.upir.name,
                            "property": r.property.name,
                            "status": r.status.value,
                        },
                    )
                )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "upir",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [
                            {
                                "id": rid,
                                "name": name,
                                "shortDescription": {"text": text},
                                "defaultConfiguration": {"level": level},
                            }
                            for rid, name, text, level in RULES
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _uri(name: str) -> str:
    """A relative file URI as code-scanning views expect (``./`` dropped)."""
    if name.startswith("<"):
        return name
    return PurePath(name).as_posix().removeprefix("./")


def _result(
    rule: str, level: str, text: str, uri: str, line: int | None, props: dict[str, str]
) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": line if line is not None else 1},
                }
            }
        ],
        "properties": props,
    }
