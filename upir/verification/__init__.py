"""Verification: the component models, their Z3 encoding, the verifier, the
proof cache and counterexample replay (DESIGN.md section 4; equations in
``docs/model.md``).

Typical use::

    verifier = Verifier(settings.solver, ProofCache(settings.cache.size))
    report = verifier.verify(upir)               # every property
    report = verifier.check_params(upir, {"gateway.retries": 3})   # a candidate
    for r in report.failures():
        print(r.property.name, r.status, r.counterexample)

Only :attr:`Verdict.PROVED` counts as a pass.
"""

from upir.verification.cache import ProofCache, property_key
from upir.verification.memo import CacheStats
from upir.verification.reference import replay, simulate
from upir.verification.results import (
    Counterexample,
    Verdict,
    VerificationReport,
    VerificationResult,
)
from upir.verification.structure import MODEL_VERSION, Structure
from upir.verification.verifier import Verifier, VerifierStats
from upir.verification.z3util import Z3_VERSION

__all__ = [
    "MODEL_VERSION",
    "Z3_VERSION",
    "CacheStats",
    "Counterexample",
    "ProofCache",
    "Structure",
    "Verdict",
    "VerificationReport",
    "VerificationResult",
    "Verifier",
    "VerifierStats",
    "property_key",
    "replay",
    "simulate",
]
