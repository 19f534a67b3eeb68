"""The operator's own Prometheus metrics (served on ``/metrics``).

A dedicated ``CollectorRegistry`` (not the global default) so tests can start
several operators in one process without duplicate-metric errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter(
            "upir_reconciles", "Reconciliations by outcome", ["outcome"], registry=r
        )
        self.verification_seconds = Histogram(
            "upir_verification_seconds",
            "Wall time of verifying one UPIR",
            buckets=_SECONDS,
            registry=r,
        )
        self.synthesis_seconds = Histogram(
            "upir_synthesis_seconds",
            "Wall time of one CEGIS synthesis",
            buckets=_SECONDS,
            registry=r,
        )
        self.proposals = Counter(
            "upir_tuning_proposals", "Tuning proposals by decision", ["decision"], registry=r
        )
        self.applied_changes = Counter(
            "upir_applied_changes", "Parameter changes written to the cluster", registry=r
        )
        self.holds = Counter(
            "upir_tuning_holds", "Tuning windows held, by reason", ["reason"], registry=r
        )
        self.verdicts = Gauge(
            "upir_property_verdict",
            "1 when the property is PROVED for the applied parameters, else 0",
            ["namespace", "upir", "property"],
            registry=r,
        )
        self.parameters = Gauge(
            "upir_parameter_value",
            "Applied parameter values",
            ["namespace", "upir", "parameter"],
            registry=r,
        )
