"""Template for ``streaming`` systems: consumers that pull from a queue or log.

- Service: no by default; consumers take no inbound traffic (pass
  ``service=True`` to :func:`upir.templates.render_manifests` when the pods
  also expose an endpoint).
- PodDisruptionBudget: yes; a drain that takes too many consumers at once lets
  the queue grow towards its capacity (the ``dropped == 0`` invariants).
- HPA (when replicas are tunable): CPU target 80 %; scale up by at most 2 pods a
  minute and down by 1 pod every 2 minutes after 10 minutes of lower load,
  because every change of the consumer set triggers a partition rebalance that
  pauses consumption.
"""

from __future__ import annotations

from upir.templates.common import Manifest, RenderContext, TemplatePolicy, assemble

POLICY = TemplatePolicy(
    system_type="streaming",
    service=False,
    pdb=True,
    cpu_utilization=80,
    behavior={
        "scaleUp": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 600,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
        },
    },
)


def render(ctx: RenderContext, *, service: bool | None = None) -> list[Manifest]:
    return assemble(ctx, POLICY, service=service)
