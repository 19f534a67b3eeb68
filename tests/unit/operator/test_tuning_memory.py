"""The tuning daemon's learner (``upir_operator.tuning.load_memory``): fresh or
resumed from its checkpoint, it screens its moves with the operator's own
verifier, and only single-parameter moves that verifier proves stay unmasked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import torch
import yaml
from upir_operator.settings import OperatorSettings
from upir_operator.tuning import LoopMemory, TuningState, checkpoint_manifest, load_memory

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import ProofCache, Verifier
from upir.verification.guardrail import Guardrail

SPEC = Path(__file__).resolve().parents[3] / "benchmarks" / "tuning_upir.yaml"
T = TypeVar("T")


class _Kube:
    """Our own layer's stand-in: one ConfigMap (or none) behind ``get``."""

    def __init__(self, cm: dict[str, Any] | None) -> None:
        self.cm = cm

    async def get(self, ref: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.cm


class _Runtime:
    def __init__(self, cm: dict[str, Any] | None) -> None:
        self.kube = _Kube(cm)
        self.engine = SimpleNamespace(verifier=Verifier(SolverSettings(), ProofCache(256)))
        self.settings = OperatorSettings()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)


BODY = {
    "apiVersion": "upir.dev/v1alpha1",
    "kind": "UPIR",
    "metadata": {"name": "tuned", "namespace": "default", "uid": "u-1"},
}


def _check_screening(mem: LoopMemory, runtime: _Runtime, upir: UPIR) -> None:
    learner = mem.learner
    assert learner is not None and learner.guardrail is not None
    assert learner.guardrail.verifier is runtime.engine.verifier
    # the mask agrees move by move with a separate guardrail on the same verifier
    reference = Guardrail(runtime.engine.verifier, upir)
    # a proved configuration of the tuning benchmark's spec from which some moves
    # break it (one worker replica fewer: model 2's p99 wait for the workers'
    # slots breaks the latency bound)
    values = {
        **upir.tunable_values(),
        "batcher.batch_size": Fraction(2),
        "batcher.flush_ms": Fraction(5),
        "worker.concurrency": Fraction(8),
        "worker.replicas": Fraction(4),
        "gateway.replicas": Fraction(2),
    }
    assert reference.check(values).proved
    mask = learner.mask(values)
    plain = learner.space.mask(values)
    masked_by_proof = 0
    for h, axis in enumerate(learner.space.axes):
        for a in (0, 2):
            if not bool(plain[h, a]):
                continue
            moved = axis.moved(values[axis.name], a, learner.space.fraction)
            proved = reference.check({**values, axis.name: moved}).proved
            assert bool(mask[h, a]) == proved, (axis.name, a)
            masked_by_proof += not proved
    assert masked_by_proof > 0


async def test_fresh_and_resumed_learners_screen_with_the_operators_verifier() -> None:
    torch.set_num_threads(1)
    upir = UPIR.from_resource(yaml.safe_load(SPEC.read_text()))
    fresh_runtime = _Runtime(None)
    fresh = await load_memory(fresh_runtime, BODY, upir)
    _check_screening(fresh, fresh_runtime, upir)

    cm = checkpoint_manifest(BODY, LoopMemory(fresh.spec_hash, fresh.learner, TuningState()))
    resumed_runtime = _Runtime(cm)
    resumed = await load_memory(resumed_runtime, BODY, upir)
    assert resumed.learner is not fresh.learner
    _check_screening(resumed, resumed_runtime, upir)
