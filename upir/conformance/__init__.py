"""Proofs meet the running system (DESIGN.md section 8): observed environment
values against a specification's assumptions, and assumptions that would cover
them (``upir calibrate``); one live window against the assumptions and the
proved bounds, with hysteresis (:mod:`upir.conformance.live`)."""

from upir.conformance.assumptions import (
    AssumptionCheck,
    Coverage,
    Observations,
    check_assumptions,
)
from upir.conformance.calibrate import DEFAULT_MARGIN, Calibration, Proposal, Summary, calibrate
from upir.conformance.live import (
    Bound,
    ConformanceState,
    Finding,
    Reason,
    advance,
    judge,
    proved_bounds,
)

__all__ = [
    "DEFAULT_MARGIN",
    "AssumptionCheck",
    "Bound",
    "Calibration",
    "ConformanceState",
    "Coverage",
    "Finding",
    "Observations",
    "Proposal",
    "Reason",
    "Summary",
    "advance",
    "calibrate",
    "check_assumptions",
    "judge",
    "proved_bounds",
]
