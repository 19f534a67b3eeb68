"""Signing a synthesis answer: the certificate covers the UPIR with the
synthesized values and the fresh verifier's verdicts (all PROVED)."""

from __future__ import annotations

from datetime import datetime

from upir.certificates import CertificateError, SignedCertificate, SigningKey, issue_certificate
from upir.core.upir import UPIR
from upir.synthesis.results import SynthesisResult, SynthesisStatus
from upir.verification import MODEL_VERSION, Z3_VERSION


def certify(
    upir: UPIR, result: SynthesisResult, key: SigningKey, *, now: datetime
) -> SignedCertificate:
    """Sign ``result`` for ``upir`` (the UPIR it was synthesized for). The
    certificate names every parameter value of ``upir.with_params(result.parameters)``
    and the verdicts of ``result.report``. ``now`` must be timezone-aware.

    Raises :class:`~upir.certificates.CertificateError` unless the result is a
    SUCCESS whose report proves every property (``issue_certificate`` checks the
    verdicts again)."""
    if result.status is not SynthesisStatus.SUCCESS or result.report is None:
        raise CertificateError(
            f"refusing to certify a {result.status.value} synthesis result: only SUCCESS is proved"
        )
    proved = upir.with_params(result.parameters)
    return issue_certificate(
        proved,
        result.report.results,
        proved.param_values(),
        key,
        solver_version=Z3_VERSION,
        model_version=MODEL_VERSION,
        now=now,
    )
