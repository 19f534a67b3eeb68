"""Size of the operator's learner checkpoint ConfigMap as a learner ages.

Run from the repository root::

    python benchmarks/checkpoint_size.py 50 100 200 300

Tunes the tuning benchmark's UPIR (``benchmarks/tuning_upir.yaml``) on the
simulator through the shared loop, under the ``shift`` load (120 then 300
req/s), with the plain learner and with the winner (score model + imagination +
restart), and prints after each given number of windows the size of the
ConfigMap the operator would write (``upir_operator.tuning.checkpoint_manifest``,
serialised as JSON) and of the learner's raw checkpoint. The API server refuses
objects over 1 MiB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "operator"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from upir_operator.tuning import LoopMemory, checkpoint_manifest  # noqa: E402

from upir.core import UPIR  # noqa: E402
from upir.settings import SolverSettings  # noqa: E402
from upir.tuning.settings import TuningSettings  # noqa: E402
from upir.tuning.simulated import LOAD_METRIC, SimulatedWorkload, make_profile, tune  # noqa: E402
from upir.tuning.step import LoopState, new_learner  # noqa: E402
from upir.verification import ProofCache, Verifier  # noqa: E402
from upir.verification.guardrail import Guardrail  # noqa: E402


def main(argv: list[str]) -> int:
    marks = sorted(int(a) for a in argv) or [50, 100, 200, 300]
    torch.set_num_threads(1)
    upir = UPIR.from_resource(yaml.safe_load((ROOT / "benchmarks/tuning_upir.yaml").read_text()))
    body = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": upir.name, "namespace": "default", "uid": "u-1"},
    }
    for name, settings in (("plain", TuningSettings(model=False)), ("winner", TuningSettings())):
        guard = Guardrail(Verifier(SolverSettings(), ProofCache(4096)), upir)
        learner = new_learner(upir, settings, load=(LOAD_METRIC,), guardrail=guard)
        profile = make_profile("shift", 120.0, 300.0, marks[-1] * 10.0)
        wl = SimulatedWorkload(upir, profile, seed=1, window_s=10.0)
        done = 0
        for n in marks:
            tune(learner, wl, n - done, guardrail=guard, settings=settings)
            done = n
            cm = checkpoint_manifest(body, LoopMemory("key", learner, LoopState()))
            size = len(json.dumps(cm).encode())
            print(
                f"{name} learner, {n} windows: ConfigMap {size} bytes "
                f"(learner {len(learner.to_bytes())} bytes before gzip)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
