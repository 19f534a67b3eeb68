"""``benchmarks/conformance_workload.py`` end to end with short runs: the
three reference-workload configurations it uses are PROVED, the real workload
process runs each at two loads, and what it measures stays within the proved
p99 latency and error bounds (the full run is in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "conformance_workload.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("conformance_workload", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_short_runs_stay_within_the_proved_bounds(tmp_path: Path) -> None:
    out = tmp_path / "conformance_workload.json"
    assert _load().main(["--seconds", "3", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert len(rows) == 6 and {r["rps"] for r in rows} == {200.0, 100.0}
    assert all(r["sent"] > 0 and r["p99_ms"] is not None for r in rows)
    # the first two stay within; the third (batches of 32 at a 50 ms flush, 230 ms
    # downstream against the gateway's 150 ms timeout, which covers the whole call
    # in the process but not in the UPIR) collapses into a retry storm at 200 req/s
    # after a few seconds: the documented non-conforming case (docs/benchmarks.md)
    assert all(r["p99_within"] and r["errors_within"] for r in rows[:4]), rows[:4]
