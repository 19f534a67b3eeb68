"""Seeded discrete-event simulators.

:class:`GraphSimulator` runs any UPIR's own architecture (any DAG of
services, queues and batchers; :func:`network_from_upir` builds its
:class:`Network`) and reports :class:`GraphWindow` metrics per component and
for the system; :func:`reference_network` is the reference workload as an
instance of it (what ``upir tune --simulate`` and the tuning benchmark run for
that shape). :class:`LoadProfile` is offered load over time.
"""

from upir.simulator.arrivals import ARRIVAL_KINDS, Arrivals, read_trace
from upir.simulator.graph import GraphSimulator
from upir.simulator.graph_metrics import ComponentWindow, GraphWindow, SystemWindow
from upir.simulator.load import PROFILE_KINDS, LoadProfile
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
    "PROFILE_KINDS",
    "LoadProfile",
]
