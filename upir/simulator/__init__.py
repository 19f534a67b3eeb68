"""Seeded discrete-event simulators.

:class:`GraphSimulator` runs any UPIR's own architecture (any DAG of
services, queues and batchers; :func:`network_from_upir` builds its
:class:`Network`) and reports :class:`GraphWindow` metrics per component and
for the system; :func:`reference_network` is the reference workload as an
instance of it (what ``upir tune --simulate`` and the tuning benchmark run for
that shape). :class:`LoadProfile` is offered load over time.

``Simulator`` (with :class:`WorkloadParams`, :class:`ServiceModel`,
``simulate_window`` and :class:`WindowMetrics`) is the reference workload's
former engine, no longer used by the tuner.
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
from upir.simulator.reference import reference_network

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
    "reference_network",
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
