"""The operator's own Prometheus metrics (served on ``/metrics``).

A dedicated ``CollectorRegistry`` (not the global default) so tests can start
several operators in one process without duplicate-metric errors.

Every per-object series carries ``namespace`` and ``upir`` labels, and
:meth:`OperatorMetrics.forget` removes all of an object's series when it is
deleted (a deleted UPIR's verdicts must not keep an alert firing). The verdict
is a state set, as kube-state-metrics exposes phases: one series per verdict,
1 for the current one, so VIOLATED, UNKNOWN and TIMEOUT stay apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

VERDICTS = ("PROVED", "VIOLATED", "UNKNOWN", "TIMEOUT", "ERROR")
"""Values of the ``verdict`` label of ``upir_property_verdict`` (DESIGN.md section 4)."""

RECONCILE_OUTCOMES = ("applied", "proved", "unproved", "invalid", "conflict", "failed", "error")
"""Values of ``upir_reconciles_total{outcome}``: applied (written), proved (proved,
not written: modes Off/Recommend), unproved, invalid (bad spec), conflict
(another manager owns a field), failed (a permanent API error), error (a
temporary API error, retried)."""

PROPOSAL_DECISIONS = ("recommended", "rejected", "applied", "rolled_back")
"""Values of ``upir_tuning_proposals_total{decision}``."""

Series = tuple[object, tuple[str, ...]]


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        obj = ["namespace", "upir"]
        self._series: dict[tuple[str, str], set[Series]] = {}
        self.reconciles = Counter(
            "upir_reconciles", "Reconciliations by outcome", [*obj, "outcome"], registry=r
        )
        self.verification_seconds = Histogram(
            "upir_verification_seconds",
            "Wall time of verifying one UPIR",
            obj,
            buckets=_SECONDS,
            registry=r,
        )
        self.synthesis_seconds = Histogram(
            "upir_synthesis_seconds",
            "Wall time of one CEGIS synthesis",
            obj,
            buckets=_SECONDS,
            registry=r,
        )
        self.proposals = Counter(
            "upir_tuning_proposals", "Tuning proposals by decision", [*obj, "decision"], registry=r
        )
        self.applied_changes = Counter(
            "upir_applied_changes", "Parameter changes written to the cluster", obj, registry=r
        )
        self.holds = Counter(
            "upir_tuning_holds", "Tuning windows held, by reason", [*obj, "reason"], registry=r
        )
        self.verdicts = Gauge(
            "upir_property_verdict",
            "1 for the property's current verdict (PROVED, VIOLATED, UNKNOWN, TIMEOUT, "
            "ERROR), 0 for the others",
            [*obj, "property", "verdict"],
            registry=r,
        )
        self.parameters = Gauge(
            "upir_parameter_value",
            "Applied parameter values",
            [*obj, "parameter"],
            registry=r,
        )
        self.conformant = Gauge(
            "upir_conformant",
            "1 while the live observations are inside what was proved (the Conformant "
            "condition is True), 0 while they are not (False); absent while there is no data",
            obj,
            registry=r,
        )
        self.conformance_reason = Gauge(
            "upir_conformance_reason",
            "1 for the Conformant condition's current reason (Conformant, AssumptionViolated, "
            "BoundExceeded, NoData), 0 for the others",
            [*obj, "reason"],
            registry=r,
        )
        self.conformance_observed = Gauge(
            "upir_conformance_observed",
            "Latest value read for an environment name (env.*) or a metric with a proved bound",
            [*obj, "name"],
            registry=r,
        )
        self.conformance_bound = Gauge(
            "upir_conformance_bound",
            "The assumed (env.*) or proved (metric) limit on an observed name, by side (min, max)",
            [*obj, "name", "side"],
            registry=r,
        )
        self.measured_latency = Gauge(
            "upir_measured_latency_ms",
            "Latest latency the tuning loop measured through Prometheus, ms",
            obj,
            registry=r,
        )

    def observe(self, metric: Histogram, seconds: float, namespace: str, upir: str) -> None:
        child = self.child(metric, namespace, upir)
        assert isinstance(child, Histogram)
        child.observe(seconds)

    def child(
        self, metric: Counter | Gauge | Histogram, namespace: str, upir: str, *rest: str
    ) -> object:
        """``metric.labels(namespace, upir, *rest)``, remembered for :meth:`forget`."""
        labels = (namespace, upir, *rest)
        self._series.setdefault((namespace, upir), set()).add((metric, labels))
        return metric.labels(*labels)

    def count(self, metric: Counter, namespace: str, upir: str, *rest: str) -> None:
        child = self.child(metric, namespace, upir, *rest)
        assert isinstance(child, Counter)
        child.inc()

    def set(self, metric: Gauge, value: float, namespace: str, upir: str, *rest: str) -> None:
        child = self.child(metric, namespace, upir, *rest)
        assert isinstance(child, Gauge)
        child.set(value)

    def set_verdicts(self, namespace: str, upir: str, verdicts: Mapping[str, str]) -> None:
        """The current verdict per property; properties no longer in the spec go."""
        mine = self._series.get((namespace, upir), set())
        for metric, labels in list(mine):
            if metric is self.verdicts and labels[2] not in verdicts:
                self.verdicts.remove(*labels)
                mine.discard((metric, labels))
        for prop, verdict in verdicts.items():
            for value in VERDICTS:
                self.set(
                    self.verdicts, 1.0 if value == verdict else 0.0, namespace, upir, prop, value
                )

    def replace_series(
        self, metric: Gauge, namespace: str, upir: str, values: Mapping[tuple[str, ...], float]
    ) -> None:
        """Set ``metric``'s series of one object to ``values`` (extra labels ->
        value) and remove that object's other series of ``metric``."""
        mine = self._series.get((namespace, upir), set())
        for m, labels in list(mine):
            if m is metric and labels[2:] not in values:
                metric.remove(*labels)
                mine.discard((m, labels))
        for rest, value in values.items():
            self.set(metric, value, namespace, upir, *rest)

    def forget(self, namespace: str, upir: str) -> None:
        """Remove every series of a deleted object."""
        for metric, labels in self._series.pop((namespace, upir), set()):
            try:
                metric.remove(*labels)  # type: ignore[attr-defined]
            except KeyError:
                pass
