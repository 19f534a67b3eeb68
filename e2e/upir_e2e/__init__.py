"""End-to-end harness for upir-operator.

Pieces that stand in for a cluster on a developer machine or in CI: the Kubernetes
API emulator (``upir_e2e.emulator``), a real Prometheus server run on loopback
(``upir_e2e.prometheus``) and the reference workload run as a local process
(``upir_e2e.workload``).
"""
