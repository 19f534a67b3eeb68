"""Reference workload for upir-operator: a real asyncio service to verify and tune.

A gateway with per-attempt timeouts and retries calls a bounded ``orders`` queue, a
batcher and a worker pool; parameters come from a mounted ConfigMap and reload live;
metrics are exported for Prometheus. Run ``python -m refworkload --help`` to serve it
and ``python -m refworkload.loadgen --help`` to load it.
"""

__version__ = "0.1.0"
