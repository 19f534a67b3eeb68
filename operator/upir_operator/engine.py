"""What the operator decides for one UPIR object: blocking library work, no I/O.

``Engine.evaluate`` validates the resource, verifies the current parameters,
synthesizes proved ones when they fail (unless pinned), signs a certificate for
what will be applied, and renders the manifests. Handlers run it in a worker
thread and then apply its result through ``upir_operator.kube``. Nothing here
talks to the cluster, so it is unit-testable with plain dicts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from upir.certificates import SignedCertificate, SigningKey, issue_certificate
from upir.core import UPIR
from upir.errors import FieldIssue, InvalidSpecError, PermanentError
from upir.settings import Settings
from upir.synthesis import SynthesisResult, SynthesisStatus, Synthesizer
from upir.templates import render_manifests
from upir.verification import (
    MODEL_VERSION,
    Z3_VERSION,
    ProofCache,
    VerificationReport,
    Verifier,
)

logger = logging.getLogger(__name__)

PIN_ANNOTATION = "upir.dev/pin-parameters"
"""Set to "true" on a UPIR to forbid synthesis from changing its parameters."""

RELOAD_ANNOTATION = "upir.dev/reload"
"""Set to "live" when the workload reloads its mounted ConfigMap in place (the
reference workload does): the pods are then not rolled on every change."""

MAX_COUNTEREXAMPLE_STEPS = 4
"""Steps of a counterexample trace kept in status (status writes stay small)."""


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one reconciliation, before anything is applied."""

    generation: int | None
    issues: tuple[FieldIssue, ...] = ()
    upir: UPIR | None = None
    report: VerificationReport | None = None
    synthesis: SynthesisResult | None = None
    applied: UPIR | None = None
    applied_report: VerificationReport | None = None
    certificate: SignedCertificate | None = None
    manifests: tuple[dict[str, Any], ...] = ()
    pinned: bool = False
    verify_seconds: float = 0.0
    synth_seconds: float = 0.0
    error: str | None = None
    events: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return not self.issues and self.upir is not None


def owner_reference(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": str(body.get("apiVersion", "upir.dev/v1alpha1")),
        "kind": "UPIR",
        "name": str(meta.get("name")),
        "uid": str(meta.get("uid")),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pinned(body: Mapping[str, Any]) -> bool:
    ann = (body.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(PIN_ANNOTATION, "")).lower() == "true"


def _resource_doc(body: Mapping[str, Any]) -> dict[str, Any]:
    """Only what the user wrote: apiVersion, kind, metadata.name/namespace, spec."""
    meta = body.get("metadata") or {}
    doc: dict[str, Any] = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
        "spec": body.get("spec"),
    }
    return doc


class Engine:
    """Holds the long-lived library objects (verifier with its proof cache,
    synthesizer, signing key). Thread-safe for concurrent ``evaluate`` calls on
    different objects: the verifier keeps one Z3 context per thread."""

    def __init__(self, settings: Settings, key: SigningKey) -> None:
        self.settings = settings
        self.cache = ProofCache(settings.cache.size)
        self.verifier = Verifier(settings.solver, self.cache)
        self.synthesizer = Synthesizer(settings.solver, verifier=self.verifier)
        self.key = key

    def evaluate(
        self,
        body: Mapping[str, Any],
        *,
        workload: Mapping[str, Any] | None = None,
        params: Mapping[str, Fraction] | None = None,
        now: datetime | None = None,
        previous_certificate: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """``workload``: the live target Deployment when the spec names one and it
        exists. When the spec names one that does not exist, only the parameters
        ConfigMap is rendered (a Deployment patch would create an image-less
        Deployment). ``params``: apply these values (a tuning step or the
        last applied ones) instead of the spec's: they are verified in full and
        applied only when every property is PROVED; synthesis is not tried.
        ``previous_certificate``: the envelope in status; when it certifies the
        same statement it is kept as is (same issuedAt, same signature), so a
        re-check with nothing changed neither re-signs nor rewrites anything."""
        generation = (body.get("metadata") or {}).get("generation")
        try:
            upir = UPIR.from_resource(_resource_doc(body))
        except InvalidSpecError as err:
            return Evaluation(generation, issues=err.issues)
        pinned = _pinned(body)
        if params is not None:
            try:
                upir = upir.with_params(params)
            except KeyError as err:
                raise PermanentError(f"cannot apply parameters: {err}") from None
        started = time.perf_counter()
        report = self.verifier.verify(upir)
        verify_s = time.perf_counter() - started
        synthesis: SynthesisResult | None = None
        synth_s = 0.0
        applied: UPIR | None = None
        applied_report: VerificationReport | None = None
        if report.passed:
            applied, applied_report = upir, report
        elif params is None and not pinned and upir.parameters:
            started = time.perf_counter()
            synthesis = self.synthesizer.synthesize(upir)
            synth_s = time.perf_counter() - started
            if synthesis.status is SynthesisStatus.SUCCESS and synthesis.report is not None:
                applied = upir.with_params(synthesis.parameters)
                applied_report = synthesis.report
        ev = Evaluation(
            generation,
            upir=upir,
            report=report,
            synthesis=synthesis,
            pinned=pinned,
            verify_seconds=verify_s,
            synth_seconds=synth_s,
        )
        if applied is None or applied_report is None:
            return ev
        try:
            cert = self._certify(applied, applied_report, now, previous_certificate)
            annotations = (body.get("metadata") or {}).get("annotations") or {}
            manifests = render_manifests(
                upir,
                applied.tunable_values(),
                certificate=cert.to_dict(),
                owner=owner_reference(body),
                workload=workload,
                restart_on_change=annotations.get(RELOAD_ANNOTATION) != "live",
            )
            if upir.target.deployment and workload is None:
                manifests = [m for m in manifests if m["kind"] == "ConfigMap"]
        except PermanentError as err:
            return _replace(ev, error=str(err))
        return _replace(
            ev,
            applied=applied,
            applied_report=applied_report,
            certificate=cert,
            manifests=tuple(manifests),
        )

    def _certify(
        self,
        applied: UPIR,
        report: VerificationReport,
        now: datetime | None,
        previous: Mapping[str, Any] | None,
    ) -> SignedCertificate:
        def issue(at: datetime) -> SignedCertificate:
            return issue_certificate(
                applied,
                report.results,
                applied.param_values(),
                self.key,
                solver_version=Z3_VERSION,
                model_version=MODEL_VERSION,
                now=at,
            )

        issued_at = _issued_at(previous)
        if issued_at is not None and previous is not None:
            # Ed25519 is deterministic: the same statement at the same time
            # signs to the same envelope
            again = issue(issued_at)
            if again.payload == previous.get("payload"):
                return again
        return issue(now or datetime.now(UTC))


def _issued_at(envelope: Mapping[str, Any] | None) -> datetime | None:
    if not envelope or not isinstance(envelope.get("payload"), str):
        return None
    try:
        raw = json.loads(envelope["payload"])["issuedAt"]
        return datetime.strptime(str(raw), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        return None


def _replace(ev: Evaluation, **changes: Any) -> Evaluation:
    from dataclasses import replace

    return replace(ev, **changes)


def trim_counterexample(cex: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A counterexample small enough for status: the environment and the first
    MAX_COUNTEREXAMPLE_STEPS steps of the trace, floats only."""
    if not cex:
        return None
    out: dict[str, Any] = {}
    for key in ("violatedAt", "horizon", "stepMs", "constant", "params"):
        if key in cex:
            out[key] = cex[key]
    for key in ("env", "trace"):
        if key in cex and isinstance(cex[key], list):
            out[key] = cex[key][:MAX_COUNTEREXAMPLE_STEPS]
            if len(cex[key]) > MAX_COUNTEREXAMPLE_STEPS:
                out[f"{key}Truncated"] = len(cex[key])
    return out


def as_number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)
