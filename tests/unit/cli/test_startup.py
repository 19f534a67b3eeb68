"""What the ``upir`` command loads at start-up (issue 25): commands that neither
tune nor cluster import neither PyTorch nor scikit-learn; ``--help`` and
``validate`` import no solver either. Timings are in benchmarks/startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from upir.cli import synthesize, tune

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "api-service.yaml"
HEAVY = ("torch", "sklearn", "scipy", "z3", "cryptography", "matplotlib", "rich")

PROBE = """
import contextlib, io, json, sys
from upir.cli.main import main
argv = json.loads(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(argv)
    except SystemExit as done:  # --help
        code = done.code
heavy = json.loads(sys.argv[2])
print(json.dumps({"code": code, "loaded": sorted({m.split('.')[0] for m in sys.modules} & set(heavy))}))
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return int(data["code"]), set(data["loaded"])


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (("--help",), set()),
        (("validate", str(EXAMPLE)), set()),
        (("verify", str(EXAMPLE)), {"z3"}),
    ],
)
def test_start_up_loads_only_what_the_command_needs(
    argv: tuple[str, ...], allowed: set[str]
) -> None:
    code, loaded = _loaded(*argv)
    assert code == 0
    assert loaded <= allowed, f"upir {' '.join(argv)} loaded {sorted(loaded - allowed)}"


def test_constants_kept_for_lazy_imports_match_their_sources() -> None:
    from upir.synthesis import OBJECTIVE_ORDERS
    from upir.tuning.simulated import PROFILES

    assert tune.PROFILES == PROFILES
    assert set(synthesize.OBJECTIVE_CHOICES) == set(OBJECTIVE_ORDERS)
