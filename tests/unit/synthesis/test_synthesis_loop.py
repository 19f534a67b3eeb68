"""The CEGIS loop's decisions, with our own verifier layer replaced where a
test needs it: inconclusive verdicts never pass, a fast path that says PROVED
is not trusted, and every ending (PARTIAL, TIMEOUT, INVALID_SPEC, UNSAT,
SUCCESS) comes with what it promises."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest

from upir.certificates import CertificateError, generate_signing_key, verify_certificate
from upir.core import UPIR
from upir.core.numbers import Number
from upir.settings import SolverSettings
from upir.synthesis import Sketch, SynthesisStatus, Synthesizer, certify
from upir.synthesis.cegis import _Run
from upir.verification import Verdict, VerificationReport, VerificationResult, Verifier

SETTINGS = SolverSettings(timeout_ms=10_000)


def _doc(
    *,
    assumptions: list[str] | None = None,
    constraints: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "loop"},
        "spec": {
            "architecture": {
                "components": [
                    {
                        "name": "gw",
                        "type": "service",
                        "params": {
                            "replicas": 2,
                            "concurrency": 4,
                            "timeout_ms": 200,
                            "retries": 3,
                        },
                    }
                ]
            },
            "specification": {
                "assumptions": assumptions
                if assumptions is not None
                else [
                    "10 <= env.gw_service_ms <= 60",
                    "env.gw_failure_rate <= 0.05",
                    "env.arrival_rps <= 50",
                ],
                # model 2: the p99 latency includes the wait for one of the 8
                # slots (docs/model.md 3.1): about 509 ms at r=2, 678 at r=3
                "constraints": constraints
                if constraints is not None
                else {"latency_ms": {"max": 700}, "availability": {"min": 0.999}},
            },
            "parameters": parameters
            if parameters is not None
            else [
                {"name": "gw.timeout_ms", "min": 50, "max": 200, "step": 50},
                {"name": "gw.retries", "min": 0, "max": 3},
            ],
        },
    }


def _upir(**kwargs: Any) -> UPIR:
    return UPIR.from_resource(_doc(**kwargs))


class Undecided(Verifier):
    """Answers UNKNOWN for every property of every candidate."""

    def check_params(
        self, upir: UPIR, values: Mapping[str, Fraction | Number]
    ) -> VerificationReport:
        props = upir.specification.all_properties()
        return VerificationReport(
            tuple(VerificationResult(p, Verdict.UNKNOWN, message="undecided") for p in props)
        )


class Flatterer(Verifier):
    """A fast path that calls every candidate PROVED."""

    def check_params(
        self, upir: UPIR, values: Mapping[str, Fraction | Number]
    ) -> VerificationReport:
        props = upir.specification.all_properties()
        return VerificationReport(
            tuple(VerificationResult(p, Verdict.PROVED, proof="stateless") for p in props)
        )


def test_inconclusive_verdicts_never_pass() -> None:
    upir = _upir(parameters=[{"name": "gw.retries", "min": 0, "max": 3}])
    result = Synthesizer(SETTINGS, verifier=Undecided(SETTINGS)).synthesize(upir)
    assert result.status is SynthesisStatus.PARTIAL
    assert result.parameters == {} and result.report is None
    # each of the 4 candidates is tried once, then nothing is left to propose
    tried = [dict(r.candidate) for r in result.history if r.candidate]
    assert len(tried) == 4 and len({tuple(sorted(c.items())) for c in tried}) == 4
    assert all(r.inconclusive for r in result.history if r.candidate)
    assert "could not decide" in result.explanation


def test_a_fast_path_proof_is_checked_by_a_fresh_verifier() -> None:
    upir = _upir()
    result = Synthesizer(SETTINGS, verifier=Flatterer(SETTINGS)).synthesize(upir)
    assert result.status is SynthesisStatus.SUCCESS
    # the cheapest candidate (timeout 50, no retries) fails availability: the fresh
    # verifier refuted it although the fast path said PROVED
    assert result.iterations > 1
    assert result.history[0].failed == ("constraint.availability",)
    assert result.report is not None and all(
        r.status is Verdict.PROVED for r in result.report.results
    )
    assert Verifier(SETTINGS).verify(upir.with_params(result.parameters)).passed


def test_out_of_iterations_is_partial_with_best_candidate() -> None:
    result = Synthesizer(SETTINGS, max_iterations=1).synthesize(_upir())
    assert result.status is SynthesisStatus.PARTIAL
    assert result.parameters == {}
    assert dict(result.best_candidate) == {"gw.timeout_ms": 50, "gw.retries": 0}
    assert result.violated == ("constraint.availability",)
    assert "no proved parameters after 1 iteration(s)" in result.explanation
    assert "constraint.availability" in result.explanation


def test_out_of_time_is_timeout() -> None:
    result = Synthesizer(SETTINGS, timeout_ms=1).synthesize(_upir())
    assert result.status is SynthesisStatus.TIMEOUT
    assert result.parameters == {}
    assert "out of time" in result.explanation and "1 ms" in result.explanation


def test_contradictory_assumptions_are_an_invalid_spec() -> None:
    upir = _upir(assumptions=["env.gw_service_ms >= 100", "env.gw_service_ms <= 10"])
    result = Synthesizer(SETTINGS).synthesize(upir)
    assert result.status is SynthesisStatus.INVALID_SPEC
    assert "assumptions allow no environment" in result.explanation


def test_no_tunable_parameters_success_and_unsat() -> None:
    ok = Synthesizer(SETTINGS).synthesize(_upir(parameters=[]))
    assert ok.status is SynthesisStatus.SUCCESS and ok.parameters == {} and ok.iterations == 1
    bad = Synthesizer(SETTINGS).synthesize(
        _upir(parameters=[], constraints={"latency_ms": {"max": 10}})
    )
    assert bad.status is SynthesisStatus.UNSAT
    assert bad.explanation.startswith(
        "no values of the parameters (none is tunable) satisfy: constraint.latency_ms"
    )


def test_success_is_the_cheapest_proved_point_and_needs_a_round() -> None:
    result = Synthesizer(SETTINGS).synthesize(_upir())
    assert result.status is SynthesisStatus.SUCCESS and result.optimal
    assert result.iterations == 2 and result.counterexamples >= 1
    # availability 1 - 0.05^(r+1) >= 0.999 needs r >= 2 (and T >= 60: T=50 < 60
    # makes every slow attempt fail); the p99 latency (509 ms at r=2) is within
    # 700 for every such T; the latency-bound objective (r+1)*T is least at
    # T=100, r=2
    assert dict(result.parameters) == {"gw.timeout_ms": 100, "gw.retries": 2}
    assert dict(result.objective) == {
        "cost": 2,
        "latency_bound_ms": 300,
        "change": Fraction(100, 150) + Fraction(1, 3),
    }
    assert [r.index for r in result.history] == [1, 2]
    assert all(r.propose_ms >= 0 and r.verify_ms > 0 for r in result.history)


def test_certify_signs_success_and_refuses_the_rest() -> None:
    upir = _upir()
    key = generate_signing_key()
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = Synthesizer(SETTINGS).synthesize(upir)
    envelope = certify(upir, result, key, now=now)
    check = verify_certificate(envelope.to_json(), key.public_key_pem())
    assert check.valid and check.trusted and check.certificate is not None
    assert check.certificate.parameters["gw.timeout_ms"] == 100
    assert check.certificate.content_hash == upir.with_params(result.parameters).content_hash()
    partial = Synthesizer(SETTINGS, max_iterations=1).synthesize(upir)
    with pytest.raises(CertificateError, match="PARTIAL"):
        certify(upir, partial, key, now=now)


def _queue_upir() -> UPIR:
    doc: dict[str, Any] = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "q"},
        "spec": {
            "architecture": {
                "components": [
                    {
                        "name": "gw",
                        "type": "service",
                        "params": {"replicas": 4, "concurrency": 8, "timeout_ms": 100},
                    },
                    {"name": "q", "type": "queue", "params": {"capacity": 500}},
                    {
                        "name": "worker",
                        "type": "service",
                        "params": {"replicas": 2, "concurrency": 2, "timeout_ms": 100},
                    },
                ],
                "connections": [{"from": "gw", "to": "q"}, {"from": "q", "to": "worker"}],
            },
            "specification": {
                "assumptions": [
                    "env.arrival_rps <= 800",
                    "env.gw_service_ms == 5",
                    "env.worker_service_ms == 10",
                    "env.gw_failure_rate == 0",
                    "env.worker_failure_rate == 0",
                ],
                "invariants": [
                    {"name": "no_loss", "operator": "ALWAYS", "predicate": "q.dropped == 0"}
                ],
                "constraints": {"cost": {"max": 10}},
            },
            "parameters": [
                {"name": "q.capacity", "min": 100, "max": 1000, "step": 100},
                {"name": "worker.replicas", "min": 1, "max": 4},
            ],
        },
    }
    return UPIR.from_resource(doc)


class SlowToRefute(Verifier):
    """The real verdicts, except that a violated queue invariant comes back as
    TIMEOUT (what a slowly filling queue does to the real verifier)."""

    def check_params(
        self, upir: UPIR, values: Mapping[str, Fraction | Number]
    ) -> VerificationReport:
        report = super().check_params(upir, values)
        results = tuple(
            VerificationResult(r.property, Verdict.TIMEOUT, message="slow")
            if r.property.name == "no_loss" and r.status is Verdict.VIOLATED
            else r
            for r in report.results
        )
        return VerificationReport(results, report.time_ms, report.warnings)


def test_undecided_queue_invariant_is_refuted_in_the_steady_state() -> None:
    upir = _queue_upir()
    result = Synthesizer(SETTINGS, verifier=SlowToRefute(SETTINGS)).synthesize(upir)
    assert result.status is SynthesisStatus.SUCCESS, result.explanation
    # 4 replicas drain 800 items/s, the most that can arrive; capacity is left as it was
    assert dict(result.parameters) == {"q.capacity": 500, "worker.replicas": 4}
    rounds = result.history
    assert rounds[0].failed == ("no_loss",) and rounds[0].inconclusive == ()
    assert not any(r.inconclusive for r in rounds)  # every TIMEOUT was settled
    assert result.iterations == 2  # the most overloaded environment refutes 1 to 3 replicas


class Counting(Verifier):
    def __init__(self, settings: SolverSettings) -> None:
        super().__init__(settings)
        self.calls: list[dict[str, Fraction]] = []

    def check_params(
        self, upir: UPIR, values: Mapping[str, Fraction | Number]
    ) -> VerificationReport:
        self.calls.append({k: Fraction(v) for k, v in values.items()})
        return super().check_params(upir, values)


def test_once_on_candidates_are_refuted_before_the_verifier_sees_them() -> None:
    upir = _queue_upir()
    verifier = Counting(SETTINGS)
    run = _Run(
        Synthesizer(SETTINGS, verifier=verifier), Sketch.from_upir(upir), time.perf_counter()
    )
    run.precheck = True  # as after an undecided queue invariant
    result = run.loop()
    assert result.status is SynthesisStatus.SUCCESS
    first = result.history[0]
    assert (
        first.skipped_verifier and first.failed == ("no_loss",) and first.new_counterexamples == 1
    )
    assert verifier.calls == [{"q.capacity": 500, "worker.replicas": 4}]
