"""JUnit and SARIF from `upir verify` for the verdicts the examples never give
(UNKNOWN, TIMEOUT, ERROR), and a verifier that refuses a spec the loader accepted.
The verifier here is a stand-in for our own layer; the real one is exercised in
tests/integration/cli."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from upir.cli.reports import Checked, FileOutcome, junit_xml, sarif
from upir.cli.verify import check_file, exit_code
from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.resource import load_documents
from upir.verification import Verdict, VerificationReport, VerificationResult

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "api-service.yaml"


def _outcome(*statuses: Verdict) -> FileOutcome:
    upir = UPIR.from_resource(load_documents(EXAMPLE.read_text(), source="x")[0])
    props = upir.specification.all_properties()
    results = tuple(
        VerificationResult(p, s, message=f"{s.value.lower()} detail")
        for p, s in zip(props, statuses, strict=False)
    )
    outcome = FileOutcome("deploy/api.yaml")
    outcome.checked.append(Checked(0, upir, VerificationReport(results, 5.0)))
    outcome.lines[(0, props[1].field)] = 36
    return outcome


def test_inconclusive_verdicts_are_errors_in_junit_and_warnings_in_sarif() -> None:
    outcome = _outcome(Verdict.PROVED, Verdict.UNKNOWN, Verdict.TIMEOUT, Verdict.ERROR)
    assert exit_code([outcome]) == 3
    root = ET.fromstring(junit_xml([outcome], {}))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "3")
    cases = root.findall("testsuite/testcase")
    assert cases[0].find("error") is None and cases[0].find("system-out") is not None
    error = cases[1].find("error")
    assert error is not None and error.get("type") == "UNKNOWN"
    assert "unknown detail" in (error.text or "") and cases[1].get("line") == "36"
    results = json.loads(sarif([outcome], {}))["runs"][0]["results"]
    assert [r["level"] for r in results] == ["warning"] * 3
    assert {r["ruleId"] for r in results} == {"upir/inconclusive"}
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 36
    # a property without a known line still gets a location (line 1)
    assert results[1]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


class _Refusing:
    def verify(self, upir: UPIR, *, quiet: bool = False) -> VerificationReport:
        raise InvalidSpecError.single("spec.specification.assumptions", "allow no environment")


def test_a_spec_the_verifier_refuses_is_invalid_input() -> None:
    outcome = check_file(str(EXAMPLE), _Refusing(), want_lines=True)  # type: ignore[arg-type]
    assert outcome.invalid is not None and not outcome.checked
    assert exit_code([outcome]) == 2
    assert outcome.line(0, "spec.specification.assumptions") == 29  # the key's line
