"""The reference workload (``examples/reference-workload``) as an instance of the
general simulator.

A UPIR of the reference workload's shape (``gateway`` service -> ``orders``
queue -> ``batcher`` -> ``worker`` service) describes that process, which knows
facts the UPIR cannot state; :func:`reference_network` builds the UPIR's
:class:`~upir.simulator.network.Network` told them, so the general simulator
runs the model that was calibrated against the real process
(docs/benchmarks.md, *Simulator*):

- the gateway *calls* the pipeline (:attr:`Node.calls`): its timeout cuts the
  whole call (queue, batch and worker), a timed-out or failed call is retried
  while retries remain, abandoned work carries on downstream; its own work is
  negligible (the real gateway only forwards) and it does not fail by itself;
  a request waits in its line for a slot as long as it takes (no shedding: the
  real line has no deadline), while the clients hold at most
  ``LoadProfile.max_inflight`` requests open;
- a batch of ``k`` items takes ``20 + 5 k + Exponential(5)`` ms and fails with
  probability 0.001 (the workload's ``DownstreamModel`` defaults).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction

from upir.core.upir import UPIR
from upir.simulator.network import Network, ServiceTime, network_from_upir

__all__ = [
    "REFERENCE_EDGES",
    "REFERENCE_TYPES",
    "WORKER_FAILURE_RATE",
    "WORKER_TIME",
    "is_reference_shape",
    "reference_network",
]

REFERENCE_TYPES = {
    "gateway": "service",
    "orders": "queue",
    "batcher": "batcher",
    "worker": "service",
}
"""The reference workload's components and their UPIR types."""
REFERENCE_EDGES = frozenset({("gateway", "orders"), ("orders", "batcher"), ("batcher", "worker")})
"""The reference workload's connections."""

WORKER_TIME = ServiceTime("exponential", 20.0, math.inf, 25.0, per_item_ms=5.0)
"""A worker batch of k items: ``20 + 5 k + Exponential(mean 5)`` ms."""
WORKER_FAILURE_RATE = 0.001
"""Probability one worker batch fails (each of its items is answered 502)."""
GATEWAY_TIME = ServiceTime("constant", 0.0, 0.0, 1e-6)
"""The gateway's own work per attempt: negligible (it only forwards), ms."""


def is_reference_shape(upir: UPIR) -> bool:
    """Whether ``upir`` has the reference workload's components, types and connections."""
    arch = upir.architecture
    return {c.name: c.type for c in arch.components} == REFERENCE_TYPES and {
        (c.source, c.target) for c in arch.connections
    } == REFERENCE_EDGES


def reference_network(
    upir: UPIR,
    values: Mapping[str, Fraction] | None = None,
    *,
    cores: Mapping[str, int] | None = None,
) -> Network:
    """``upir`` (of the reference shape) with ``values`` applied, told the
    reference workload's facts (module docstring). ``cores``: CPUs per replica
    by service (:attr:`Node.cores`; the real workload sleeps, so none by default)."""
    net = network_from_upir(upir, values, calls=("gateway",), cores=cores)
    gateway = replace(net.node("gateway"), service_time=GATEWAY_TIME, failure_rate=0.0, sheds=False)
    worker = replace(net.node("worker"), service_time=WORKER_TIME, failure_rate=WORKER_FAILURE_RATE)
    told = {"gateway": gateway, "worker": worker}
    return Network(tuple(told.get(n.name, n) for n in net.nodes), net.edges)
