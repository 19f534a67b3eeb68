"""Proofs meet the running system (DESIGN.md section 8): observed environment
values against a specification's assumptions, and assumptions that would cover
them (``upir calibrate``)."""

from upir.conformance.assumptions import (
    AssumptionCheck,
    Coverage,
    Observations,
    check_assumptions,
)
from upir.conformance.calibrate import DEFAULT_MARGIN, Calibration, Proposal, Summary, calibrate

__all__ = [
    "DEFAULT_MARGIN",
    "AssumptionCheck",
    "Calibration",
    "Coverage",
    "Observations",
    "Proposal",
    "Summary",
    "calibrate",
    "check_assumptions",
]
