"""End to end (issue 21): the reference workload under load above its
assumption ``env.arrival_rps <= 200`` is reported non-conformant while the real
operator runs, and the report is visible through kubectl (the CONFORMANT
column, the condition, the events); tuning holds; with the load back below the
assumption the workload is conformant again. Emulated API, real Prometheus
scraping the real workload, the real operator process."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from upir_e2e.stack import NAMESPACE, LoadThread, Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# requests the gateway received per second: the workload's offered load
ARRIVALS = "sum(rate(refworkload_requests_total[10s]))"
BASE_RPS, EXTRA_RPS = 100.0, 160.0  # 260 req/s together, beyond the assumed 200


def _conformant(s: Stack) -> dict[str, Any]:
    obj = s.kubectl.get("upir", "refworkload") or {}
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "Conformant"), {})


def _column(s: Stack) -> str:
    """The CONFORMANT column of ``kubectl get up``."""
    header, row = s.kubectl("get", "up", "refworkload", "-n", NAMESPACE).splitlines()[:2]
    start = header.index("CONFORMANT")  # columns are aligned; an empty cell is blank
    return row[start:].split(" ", 1)[0]


def test_load_beyond_the_assumptions_is_reported_non_conformant() -> None:
    with Stack(log=print) as s:
        base = LoadThread(s.workload.work_url, rps=BASE_RPS, duration_s=500, seed=3)
        base.start()
        s.on_exit(base.stop)
        s.start_operator(UPIR_CONFORMANCE_WINDOWS="2")
        doc = s.upir_document(mode="Auto", interval_s=5)
        doc["spec"]["tuning"]["prometheus"]["environment"] = {"arrival_rps": ARRIVALS}
        s.kubectl(
            "apply", "--validate=false", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(doc)
        )
        calm = wait_for(
            "Conformant=True under the assumed load",
            lambda: (c := _conformant(s)).get("reason") == "Conformant" and c,
            150,
        )
        assert "env.arrival_rps=" in calm["message"]
        assert _column(s) == "True"

        # more load: the offered rate crosses env.arrival_rps <= 200
        extra = LoadThread(s.workload.work_url, rps=EXTRA_RPS, duration_s=400, seed=4)
        extra.start()
        s.on_exit(extra.stop)
        violated = wait_for(
            "Conformant=False, AssumptionViolated",
            lambda: (c := _conformant(s)).get("reason") == "AssumptionViolated" and c,
            120,
        )
        assert violated["status"] == "False"
        assert violated["message"].startswith(
            "assumption 'env.arrival_rps <= 200' does not hold: observed env.arrival_rps="
        )
        observed = float(violated["message"].rsplit("=", 1)[1].split()[0].rstrip(";"))
        assert observed > 200
        assert _column(s) == "False"
        listed = json.loads(s.kubectl("get", "events", "-n", NAMESPACE, "-o", "json"))["items"]
        assert any(
            e["reason"] == "AssumptionViolated"
            and e["type"] == "Warning"
            and e["involvedObject"]["name"] == "refworkload"
            for e in listed
        )
        # tuning holds while the workload is outside what was proved
        wait_for(
            "tuning held: NotConformant",
            lambda: any(
                c["type"] == "Tuning" and "NotConformant: AssumptionViolated" in c["message"]
                for c in ((s.kubectl.get("upir", "refworkload") or {}).get("status") or {}).get(
                    "conditions", []
                )
            ),
            60,
        )

        # the extra load stops: conformant again
        extra.stop()
        wait_for(
            "Conformant=True again",
            lambda: _conformant(s).get("reason") == "Conformant",
            120,
        )
        assert _column(s) == "True"
