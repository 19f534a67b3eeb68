"""End to end (issue 8): emulated API + real Prometheus + the reference workload
under load + the real operator, driven with kubectl. Bounded to a few minutes."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import pytest
import yaml
from upir_e2e.stack import NAMESPACE, LoadThread, Stack, wait_for

from upir.certificates import verify_certificate
from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import Verifier
from upir.verification.reference_audit import IndependentChecker

pytestmark = pytest.mark.e2e

P99 = "histogram_quantile(0.99, sum(rate(refworkload_request_duration_seconds_bucket[{w}s])) by (le)) * 1000"
TUNED_KEYS = (
    "gateway.timeout_ms",
    "gateway.retries",
    "orders.capacity",
    "batcher.batch_size",
    "batcher.flush_ms",
    "worker.concurrency",
    "worker.replicas",
)


def cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(
        (c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), {}
    )


def test_closed_loop_tunes_only_with_proved_changes() -> None:
    with Stack(log=print) as s:
        load = LoadThread(s.workload.work_url, rps=150, duration_s=240, seed=1)
        load.start()
        time.sleep(20)
        initial_p99 = s.prometheus.query(P99.format(w=20))
        assert initial_p99 is not None
        s.start_operator()
        doc = s.upir_document(mode="Auto", interval_s=8)
        s.kubectl(
            "apply", "--validate=false", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(doc)
        )
        obj = wait_for(
            "Ready",
            lambda: (
                (o := s.kubectl.get("upir", "refworkload"))
                and cond(o, "Ready").get("status") == "True"
                and o
            ),
            120,
        )
        # the initial parameters violate the spec: the operator synthesized proved ones
        assert cond(obj, "Verified")["status"] == "False"
        assert cond(obj, "Synthesized")["status"] == "True"
        assert verify_certificate(obj["status"]["certificate"], None).valid
        wait_for(
            "tuning decisions",
            lambda: (
                ((s.kubectl.get("upir", "refworkload") or {}).get("status") or {})
                .get("tuning", {})
                .get("accepted", 0)
                >= 2
            ),
            150,
        )
        time.sleep(25)
        final_p99 = s.prometheus.query(P99.format(w=25))
        final = s.kubectl.get("upir", "refworkload")
        assert final is not None
        # every configuration the workload ever received is proved by an independent verifier
        spec = UPIR.from_resource({k: doc[k] for k in ("apiVersion", "kind", "metadata", "spec")})
        # (a fresh verifier with no shared cache, and a solver-free grid check)
        fresh = Verifier(SolverSettings())
        grid = IndependentChecker(spec)
        seen = [data for _, data in s.projector.changes][1:]  # [0] is the user's initial ConfigMap
        assert seen, "the operator never wrote the parameters"
        for data in seen:
            values = {k: Fraction(data[k]) for k in TUNED_KEYS}
            report = fresh.verify(spec.with_params(values))
            assert report.passed, (data, [(r.property.name, r.status) for r in report.results])
            assert grid.violations(values) == (), data
        assert final["status"]["tuning"]["accepted"] >= 2
        assert final_p99 is not None and final_p99 < initial_p99, (initial_p99, final_p99)
        s.kubectl("delete", "upir", "refworkload", "-n", NAMESPACE, "--wait=true", "--timeout=60s")
        wait_for(
            "owned objects removed",
            lambda: (
                s.kubectl.get("configmap", "refworkload-params") is None
                and s.kubectl.get("configmap", "refworkload-learner") is None
            ),
            60,
        )
