"""A synthesis that runs out of time is temporary: the real operator writes the
Timeout to the status and evaluates the object again after
``UPIR_INCONCLUSIVE_RETRY_SECONDS`` (doubling), instead of waiting a whole
re-check period with nothing proved applied. (What is not retried, an
unsatisfiable spec or a violation, is ``status.retry_reason``'s unit test.)"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from upir_e2e.procutil import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "examples" / "reference-workload" / "k8s" / "upir.yaml"


def cond(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def syntheses(port: int, name: str) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf'upir_synthesis_seconds_count\{{[^}}]*upir="{name}"[^}}]*\}} (\S+)', text)
    return int(float(found.group(1))) if found else 0


def test_a_synthesis_time_out_is_retried_with_backoff(
    cluster: Any, namespace: str, operator_factory: Any
) -> None:
    port = free_port()
    # the reference UPIR's parameters fail and its synthesis needs Z3's nonlinear
    # optimization, which cannot finish within a 1 ms limit per solver call
    operator_factory(
        UPIR_Z3_TIMEOUT="1", UPIR_INCONCLUSIVE_RETRY_SECONDS="1", UPIR_METRICS_PORT=str(port)
    )
    doc = yaml.safe_load(REFERENCE.read_text())
    doc["metadata"] = {"name": "slow"}
    doc["spec"]["tuning"]["mode"] = "Off"
    doc["spec"].pop("target", None)
    cluster.kubectl(
        "apply", "--validate=false", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc)
    )
    timed_out = cluster.wait_for(
        "the Timeout in the status",
        lambda: (
            (c := cond(cluster.get("upir", "slow", namespace), "Synthesized"))
            and c.get("reason") == "Timeout"
            and c
        ),
        timeout=90,
    )
    assert timed_out["status"] == "False" and "out of time" in timed_out["message"]
    status = (cluster.get("upir", "slow", namespace) or {})["status"]
    assert status["verdict"] == "VIOLATED" and "appliedParameters" not in status
    # evaluated again after 1, 2 and 4 s, well inside the hour-long re-check
    # period the test operator runs with (UPIR_RECHECK_SECONDS=3600)
    cluster.wait_for("four syntheses", lambda: syntheses(port, "slow") >= 4, timeout=60)
    after = cond(cluster.get("upir", "slow", namespace), "Synthesized")
    assert after is not None and after["reason"] == "Timeout"  # still out of time, still said
