"""Template for ``api`` systems: request/response services behind a Service.

- Service: yes (clients reach the pods through it).
- PodDisruptionBudget: yes; voluntary evictions keep ``minAvailable`` pods
  serving (see :func:`upir.templates.common.min_available`).
- HPA (when replicas are tunable): CPU target 70 % (headroom for latency), scale
  up at once (doubling at most every 15 s), scale down only after 5 minutes of
  lower load, 1 pod a minute, so a burst right after a dip is still served.
"""

from __future__ import annotations

from upir.templates.common import Manifest, RenderContext, TemplatePolicy, assemble

POLICY = TemplatePolicy(
    system_type="api",
    service=True,
    pdb=True,
    cpu_utilization=70,
    behavior={
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    },
)


def render(ctx: RenderContext, *, service: bool | None = None) -> list[Manifest]:
    return assemble(ctx, POLICY, service=service)
