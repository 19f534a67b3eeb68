"""Template for ``batch`` systems: workers that process batches to completion.

- Service: no by default (workers take no inbound traffic).
- PodDisruptionBudget: never. Batch work is restartable by design (the spec's
  retries cover a lost attempt), and a budget on workers would only stall node
  drains and cluster upgrades behind a long-running batch; the throughput and
  cost constraints are about the run as a whole, not about pods staying up.
- HPA (when replicas are tunable): CPU target 90 % (throughput over latency);
  scale up by doubling at most every minute, scale down 1 pod every 5 minutes
  after 15 minutes of lower load, because removing a worker mid-batch throws its
  partial batch away.
"""

from __future__ import annotations

from upir.templates.common import Manifest, RenderContext, TemplatePolicy, assemble

POLICY = TemplatePolicy(
    system_type="batch",
    service=False,
    pdb=False,
    cpu_utilization=90,
    behavior={
        "scaleUp": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 900,
            "selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
        },
    },
)


def render(ctx: RenderContext, *, service: bool | None = None) -> list[Manifest]:
    return assemble(ctx, POLICY, service=service)
