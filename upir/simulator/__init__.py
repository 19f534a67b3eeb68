"""Seeded discrete-event simulators.

:class:`GraphSimulator` runs any UPIR's own architecture (any DAG of
services, queues and batchers; :func:`network_from_upir` builds its
:class:`Network`) and reports :class:`GraphWindow` metrics per component and
for the system. The rest of this package is the reference workload's own
model, kept for the tuning benchmark:

``Simulator`` keeps its state across decision windows so a tuner can change
parameters between windows as it would in production; ``simulate_window``
runs one window of a fresh simulator. Inputs are :class:`WorkloadParams` (the
tunable knobs of ``examples/reference-workload``, under the same names),
:class:`ServiceModel` (how its worker stage behaves) and
:class:`LoadProfile` (offered load over time); the output is
:class:`WindowMetrics` (what the Prometheus queries would report).
"""

from upir.simulator.arrivals import ARRIVAL_KINDS, Arrivals, read_trace
from upir.simulator.engine import Simulator, simulate_window
from upir.simulator.graph import GraphSimulator
from upir.simulator.graph_metrics import ComponentWindow, GraphWindow, SystemWindow
from upir.simulator.metrics import Totals, WindowMetrics
from upir.simulator.model import (
    FIELDS_BY_KEY,
    PROFILE_KINDS,
    UPIR_KEYS,
    LoadProfile,
    ServiceModel,
    WorkloadParams,
)
from upir.simulator.network import DISTRIBUTIONS, Network, Node, ServiceTime, network_from_upir

__all__ = [
    "ARRIVAL_KINDS",
    "DISTRIBUTIONS",
    "Arrivals",
    "ComponentWindow",
    "GraphSimulator",
    "GraphWindow",
    "Network",
    "Node",
    "ServiceTime",
    "SystemWindow",
    "network_from_upir",
    "read_trace",
    "FIELDS_BY_KEY",
    "PROFILE_KINDS",
    "UPIR_KEYS",
    "LoadProfile",
    "ServiceModel",
    "Simulator",
    "Totals",
    "WindowMetrics",
    "WorkloadParams",
    "simulate_window",
]
