"""Make the reference workload (examples/reference-workload/refworkload) importable."""

import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[3] / "examples" / "reference-workload"
if str(_SOURCE) not in sys.path:
    sys.path.insert(0, str(_SOURCE))
