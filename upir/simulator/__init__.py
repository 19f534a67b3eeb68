"""A seeded discrete-event simulator of the reference workload.

``Simulator`` keeps its state across decision windows so a tuner can change
parameters between windows as it would in production; ``simulate_window``
runs one window of a fresh simulator. Inputs are :class:`WorkloadParams` (the
tunable knobs), :class:`ServiceModel` (how the downstream behaves) and
:class:`LoadProfile` (offered load over time); the output is
:class:`WindowMetrics` (what the Prometheus queries would report).
"""

from upir.simulator.engine import Simulator, simulate_window
from upir.simulator.metrics import Totals, WindowMetrics
from upir.simulator.model import LoadProfile, ServiceModel, WorkloadParams

__all__ = [
    "LoadProfile",
    "ServiceModel",
    "Simulator",
    "Totals",
    "WindowMetrics",
    "WorkloadParams",
    "simulate_window",
]
