"""A seeded discrete-event simulator of the reference workload.

``Simulator`` keeps its state across decision windows so a tuner can change
parameters between windows as it would in production; ``simulate_window``
runs one window of a fresh simulator. Inputs are :class:`WorkloadParams` (the
tunable knobs of ``examples/reference-workload``, under the same names),
:class:`ServiceModel` (how its worker stage behaves) and
:class:`LoadProfile` (offered load over time); the output is
:class:`WindowMetrics` (what the Prometheus queries would report).
"""

from upir.simulator.engine import Simulator, simulate_window
from upir.simulator.metrics import Totals, WindowMetrics
from upir.simulator.model import (
    FIELDS_BY_KEY,
    UPIR_KEYS,
    LoadProfile,
    ServiceModel,
    WorkloadParams,
)

__all__ = [
    "FIELDS_BY_KEY",
    "UPIR_KEYS",
    "LoadProfile",
    "ServiceModel",
    "Simulator",
    "Totals",
    "WindowMetrics",
    "WorkloadParams",
    "simulate_window",
]
