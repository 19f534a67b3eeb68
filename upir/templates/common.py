"""Builders shared by the system-type templates.

Every function here is pure: the same UPIR, values and options give the same
manifests, byte for byte once serialized with sorted keys.

Ownership. ``owner`` (an ownerReference) goes on every object the operator
*creates* (ConfigMap, Service, PodDisruptionBudget, HorizontalPodAutoscaler), so
deleting the UPIR removes them. It never goes on the Deployment patch: that
Deployment belongs to the user, and an ownerReference there would make the
garbage collector delete the user's workload together with the UPIR.

The Deployment patch is a server-side-apply configuration: it names only the
fields the operator manages (replicas, a pod-template annotation, the parameters
volume and the container's ``volumeMounts`` entry), plus the selector and
container name it merges on (both keyed lists, so they merge with the user's). Those two must equal the live Deployment's, so the
caller should pass the live object as ``workload``; without it the kubectl
conventions are assumed (selector ``app: <deployment>``, container named like
the Deployment, a container port named ``http``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from upir.core.specification import canonical_hash
from upir.errors import PermanentError
from upir.templates.names import (
    dns_label,
    format_value,
    label_value,
    require_config_key,
)

MANAGER = "upir-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_NAME = "upir.dev/name"
ANN_NAME = "upir.dev/name"
ANN_SPEC_HASH = "upir.dev/spec-hash"
ANN_CONTENT_HASH = "upir.dev/content-hash"
ANN_PARAMS_HASH = "upir.dev/params-hash"
ANN_CONFIG_MAP = "upir.dev/config-map"
ANN_CERT_KEY_ID = "upir.dev/certificate-key-id"
ANN_CERT_DIGEST = "upir.dev/certificate-digest"
PARAMS_VOLUME = "upir-params"
PARAMS_MOUNT_PATH = "/etc/upir/params"
"""Where the workload's container sees one file per parameter."""
SUFFIX = "-upir"
"""Suffix of the Service/PDB/HPA names: distinct from the user's own objects, so
the operator never adopts (and on delete, removes) something it did not create."""

Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Workload:
    """What the templates need to know about the target Deployment."""

    name: str
    selector: Mapping[str, Any]
    """The Deployment's LabelSelector, verbatim."""
    pod_labels: Mapping[str, str]
    """Labels a Service may select on (the selector's matchLabels)."""
    container: str
    service_ports: tuple[Mapping[str, Any], ...]

    @classmethod
    def conventional(cls, name: str) -> Workload:
        """The kubectl conventions, used when the live Deployment is unknown."""
        labels = {"app": label_value(name)}
        return cls(
            name=name,
            selector={"matchLabels": labels},
            pod_labels=labels,
            container=name,
            service_ports=({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},),
        )

    @classmethod
    def from_live(cls, name: str, deployment: Mapping[str, Any]) -> Workload:
        """From the live Deployment object (as the API returns it): its selector,
        the container named like the Deployment (else the first one) and that
        container's ports."""
        try:
            spec = deployment["spec"]
            selector = copy.deepcopy(dict(spec["selector"]))
            containers = spec["template"]["spec"]["containers"]
            chosen = next((c for c in containers if c.get("name") == name), containers[0])
            container = str(chosen["name"])
            raw_ports = list(chosen.get("ports") or [])
        except (KeyError, IndexError, TypeError, AttributeError):
            raise PermanentError(
                f"workload Deployment {name!r} lacks spec.selector or a container"
            ) from None
        ports = []
        for i, port in enumerate(raw_ports):
            number = port.get("containerPort")
            if not isinstance(number, int):
                continue
            pname = port.get("name") or f"port-{i}"
            ports.append(
                {
                    "name": str(pname),
                    "port": number,
                    "targetPort": port.get("name") or number,
                    "protocol": port.get("protocol") or "TCP",
                }
            )
        match_labels = {str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()}
        return cls(name, selector, match_labels, container, tuple(ports))


@dataclass(frozen=True, slots=True)
class ReplicaPlan:
    """How replicas are set. ``fixed``: the Deployment patch sets ``replicas``.
    ``hpa_min``/``hpa_max``: an HPA owns replicas in that range instead (and the
    patch leaves ``replicas`` alone, so the two never fight)."""

    component: str | None
    replicas: int | None
    hpa_min: int | None = None
    hpa_max: int | None = None

    @property
    def autoscaled(self) -> bool:
        return self.hpa_min is not None


@dataclass(frozen=True, slots=True)
class RenderContext:
    upir_name: str
    namespace: str | None
    config_map_name: str
    values: Mapping[str, Fraction]
    """Every ``<component>.<param>`` with the value to render."""
    data: Mapping[str, str]
    """The ConfigMap's data: parameter -> decimal text."""
    params_hash: str
    spec_hash: str
    content_hash: str
    certificate_key_id: str | None
    certificate_digest: str | None
    owner: Mapping[str, Any] | None
    workload: Workload | None
    replicas: ReplicaPlan
    availability_min: Fraction | None
    """``constraints.availability.min``, when the spec sets one."""
    restart_on_change: bool = True
    """Roll the pods when the values change (pod-template annotation); False for
    workloads that reload the mounted ConfigMap files live."""

    @property
    def base_name(self) -> str:
        """Stem of the Service/PDB/HPA names."""
        assert self.workload is not None
        return self.workload.name + SUFFIX


def metadata(ctx: RenderContext, name: str, *, owned: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": {LABEL_MANAGED_BY: MANAGER, LABEL_NAME: label_value(ctx.upir_name)},
        "annotations": {ANN_NAME: ctx.upir_name, ANN_SPEC_HASH: ctx.spec_hash},
    }
    if ctx.namespace is not None:
        meta["namespace"] = ctx.namespace
    if owned and ctx.owner is not None:
        meta["ownerReferences"] = [dict(ctx.owner)]
    return meta


def build_config_map(ctx: RenderContext) -> Manifest:
    meta = metadata(ctx, ctx.config_map_name)
    ann = meta["annotations"]
    ann[ANN_CONTENT_HASH] = ctx.content_hash
    ann[ANN_PARAMS_HASH] = ctx.params_hash
    if ctx.certificate_key_id is not None and ctx.certificate_digest is not None:
        ann[ANN_CERT_KEY_ID] = ctx.certificate_key_id
        ann[ANN_CERT_DIGEST] = ctx.certificate_digest[:16]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(ctx.data)}


def build_deployment_patch(ctx: RenderContext) -> Manifest:
    """The server-side-apply configuration for the user's Deployment."""
    wl = ctx.workload
    assert wl is not None
    meta: dict[str, Any] = {
        "name": wl.name,
        "annotations": {ANN_NAME: ctx.upir_name, ANN_PARAMS_HASH: ctx.params_hash},
    }
    if ctx.namespace is not None:
        meta["namespace"] = ctx.namespace
    pod_annotations = {ANN_CONFIG_MAP: ctx.config_map_name}
    if ctx.restart_on_change:
        # a changed hash changes the pod template, so the pods roll
        pod_annotations[ANN_PARAMS_HASH] = ctx.params_hash
    spec: dict[str, Any] = {
        "selector": copy.deepcopy(dict(wl.selector)),
        "template": {
            "metadata": {"annotations": pod_annotations},
            "spec": {
                "containers": [
                    {
                        "name": wl.container,
                        # a volume, not envFrom: envFrom is an atomic list under
                        # server-side apply (ours would replace or conflict with
                        # the user's entries), env never changes in a running pod,
                        # and keys with dots are not env names before Kubernetes 1.34
                        "volumeMounts": [
                            {
                                "name": PARAMS_VOLUME,
                                "mountPath": PARAMS_MOUNT_PATH,
                                "readOnly": True,
                            }
                        ],
                    }
                ],
                "volumes": [
                    # optional: a pod restarting after the UPIR (and its ConfigMap)
                    # is deleted must still start
                    {
                        "name": PARAMS_VOLUME,
                        "configMap": {"name": ctx.config_map_name, "optional": True},
                    }
                ],
            },
        },
    }
    plan = ctx.replicas
    if plan.replicas is not None and not plan.autoscaled:
        spec["replicas"] = plan.replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def build_service(ctx: RenderContext) -> Manifest | None:
    """A ClusterIP Service in front of the workload's pods; None when the
    selector has no matchLabels (a Service cannot select by expressions)."""
    wl = ctx.workload
    assert wl is not None
    if not wl.pod_labels or not wl.service_ports:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ctx, dns_label(ctx.base_name, letter_first=True)),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(wl.pod_labels),
            "ports": [dict(p) for p in wl.service_ports],
        },
    }


def min_available(replicas: int, availability: Fraction | None) -> int | None:
    """PDB ``minAvailable`` for ``replicas`` pods: the availability target's share
    of them (``ceil(replicas * availability.min)``; a majority when the spec sets no
    target), at least 1, and at most ``replicas - 1`` so that a node drain can
    always proceed one pod at a time. None (no PDB) below 2 replicas, where a
    budget either blocks every drain or protects nothing."""
    if replicas < 2:
        return None
    share = availability if availability is not None else Fraction(1, 2)
    return min(replicas - 1, max(1, math.ceil(replicas * share)))


def build_pod_disruption_budget(ctx: RenderContext) -> Manifest | None:
    wl = ctx.workload
    assert wl is not None
    plan = ctx.replicas
    floor = plan.hpa_min if plan.autoscaled else plan.replicas
    count = None if floor is None else min_available(floor, ctx.availability_min)
    if count is None:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(ctx, dns_label(ctx.base_name)),
        "spec": {"minAvailable": count, "selector": copy.deepcopy(dict(wl.selector))},
    }


def build_hpa(
    ctx: RenderContext, *, cpu_utilization: int, behavior: Mapping[str, Any]
) -> Manifest | None:
    """autoscaling/v2 HPA over the Deployment when the plan autoscales."""
    wl = ctx.workload
    plan = ctx.replicas
    if wl is None or plan.hpa_min is None or plan.hpa_max is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(ctx, dns_label(ctx.base_name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": wl.name},
            "minReplicas": plan.hpa_min,
            "maxReplicas": plan.hpa_max,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_utilization},
                    },
                }
            ],
            "behavior": copy.deepcopy(dict(behavior)),
        },
    }


def config_data(values: Mapping[str, Fraction]) -> dict[str, str]:
    return {require_config_key(k): format_value(v) for k, v in sorted(values.items())}


def params_hash(data: Mapping[str, str]) -> str:
    return canonical_hash(dict(data))


@dataclass(frozen=True, slots=True)
class TemplatePolicy:
    """Where the system types differ."""

    system_type: str
    service: bool
    """Render a Service by default (the caller may override)."""
    pdb: bool
    """Render a PodDisruptionBudget (when replicas allow one)."""
    cpu_utilization: int
    """HPA target: average CPU utilization, percent of requests."""
    behavior: Mapping[str, Any]
    """HPA ``spec.behavior`` (scale-up/scale-down pacing)."""


def assemble(ctx: RenderContext, policy: TemplatePolicy, *, service: bool | None) -> list[Manifest]:
    """ConfigMap always; with a target Deployment, its patch, then the Service,
    PDB and HPA that ``policy`` (and ``service``, when not None) ask for, in
    that fixed order."""
    out: list[Manifest] = [build_config_map(ctx)]
    if ctx.workload is None:
        return out
    out.append(build_deployment_patch(ctx))
    want_service = policy.service if service is None else service
    extras = [
        build_service(ctx) if want_service else None,
        build_pod_disruption_budget(ctx) if policy.pdb else None,
        build_hpa(ctx, cpu_utilization=policy.cpu_utilization, behavior=policy.behavior),
    ]
    out.extend(m for m in extras if m is not None)
    return out
