"""``render_manifests``: a UPIR plus parameter values -> Kubernetes manifests.

Replicas. The workload is sized by the *entry service*: the first ``service``
component in topological order (the one requests reach first). Its
``replicas`` value goes into the Deployment patch. When ``<entry>.replicas`` is
a tunable parameter, a HorizontalPodAutoscaler owns the replica count instead:

- ``minReplicas`` is the rendered (proved) value, never the domain's minimum,
  because fewer replicas than proved can break capacity, latency or
  availability properties;
- ``maxReplicas`` is the domain's maximum, lowered to what the ``cost``
  constraint allows with the other services at their rendered sizes (the
  catalogue's cost: sum of replicas x cost_per_replica over services), and to
  ``max_replicas`` when the caller gives one;
- when that leaves no room above the minimum, no HPA is rendered and the patch
  sets ``replicas`` as usual.

Replica counts above the proved value are *not* proved by this function: a
caller that needs every reachable size proved should prove the top of the range
and pass it as ``max_replicas``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType, ModuleType
from typing import Any

from upir.certificates import Certificate, payload_digest
from upir.core.catalog import COMPONENT_TYPES
from upir.core.numbers import Number, to_fraction
from upir.core.upir import UPIR
from upir.errors import PermanentError
from upir.templates import api, batch, streaming
from upir.templates.common import (
    Manifest,
    RenderContext,
    ReplicaPlan,
    Workload,
    config_data,
    params_hash,
)
from upir.templates.names import dns_label, require_object_name

TEMPLATES: Mapping[str, ModuleType] = MappingProxyType(
    {"api": api, "batch": batch, "streaming": streaming}
)

_OWNER_REQUIRED = ("apiVersion", "kind", "name", "uid")
_OWNER_FLAGS = ("controller", "blockOwnerDeletion")


def render_manifests(
    upir: UPIR,
    params: Mapping[str, Fraction | Number],
    *,
    certificate: Mapping[str, Any] | None = None,
    owner: Mapping[str, Any] | None = None,
    workload: Mapping[str, Any] | None = None,
    service: bool | None = None,
    max_replicas: int | None = None,
    restart_on_change: bool = True,
) -> list[Manifest]:
    """The manifests that configure ``upir``'s workload with ``params``.

    ``params``: ``<component>.<param>`` -> value (exact); parameters not named
    keep the UPIR's values. ``certificate``: the signed envelope
    (:meth:`upir.certificates.SignedCertificate.to_dict`) covering exactly these
    values; its keyId and digest are annotated on the ConfigMap. ``owner``: an
    ownerReference attached to every object the operator creates (never to the
    user's Deployment). ``workload``: the live target Deployment, so the patch
    merges on its real selector and container. ``service``: override the system
    type's Service default. ``max_replicas``: upper bound for the HPA.
    ``restart_on_change``: annotate the pod template with the values' hash so
    the pods roll when they change (default); False for workloads that reload
    the mounted ConfigMap live (the kubelet refreshes its files in place).

    Returns, in this order: the ConfigMap; with ``spec.target.deployment``, the
    Deployment patch, then the Service, PodDisruptionBudget and HPA the system
    type's template asks for. Raises :class:`PermanentError` on an unknown or
    out-of-domain parameter, a certificate for other values, a malformed owner
    or an unusable name."""
    template = TEMPLATES.get(upir.system_type)
    if template is None:
        raise PermanentError(f"no template for system type {upir.system_type!r}")
    ctx = build_context(
        upir,
        params,
        certificate=certificate,
        owner=owner,
        workload=workload,
        max_replicas=max_replicas,
        restart_on_change=restart_on_change,
    )
    manifests: list[Manifest] = template.render(ctx, service=service)
    return manifests


def build_context(
    upir: UPIR,
    params: Mapping[str, Fraction | Number],
    *,
    certificate: Mapping[str, Any] | None = None,
    owner: Mapping[str, Any] | None = None,
    workload: Mapping[str, Any] | None = None,
    max_replicas: int | None = None,
    restart_on_change: bool = True,
) -> RenderContext:
    _check_params(upir, params)
    rendered = upir.with_params(params) if params else upir
    values = rendered.param_values()
    data = config_data(values)
    content_hash = rendered.content_hash()
    key_id, digest = _certificate_info(certificate, rendered.name, content_hash)
    if upir.target.config_map:
        cm_name = require_object_name(upir.target.config_map, "spec.target.configMap")
    else:
        cm_name = dns_label(f"{upir.name}-params")
    wl: Workload | None = None
    if upir.target.deployment:
        name = require_object_name(upir.target.deployment, "spec.target.deployment")
        if workload is not None:
            live_name = (workload.get("metadata") or {}).get("name")
            if live_name not in (None, name):
                raise PermanentError(
                    f"workload is Deployment {live_name!r}, but the target is {name!r}"
                )
            wl = Workload.from_live(name, workload)
        else:
            wl = Workload.conventional(name)
    elif workload is not None:
        raise PermanentError("a workload was given but spec.target.deployment is not set")
    availability = next(
        (c.min for c in upir.specification.constraints if c.key == "availability"), None
    )
    return RenderContext(
        upir_name=upir.name,
        namespace=upir.namespace,
        config_map_name=cm_name,
        values=MappingProxyType(values),
        data=MappingProxyType(data),
        params_hash=params_hash(data),
        spec_hash=upir.spec_hash(),
        content_hash=content_hash,
        certificate_key_id=key_id,
        certificate_digest=digest,
        owner=_owner(owner),
        workload=wl,
        replicas=replica_plan(rendered, values, max_replicas),
        availability_min=availability,
        restart_on_change=restart_on_change,
    )


def _check_params(upir: UPIR, params: Mapping[str, Fraction | Number]) -> None:
    current = upir.param_values()
    for name, raw in params.items():
        if name not in current:
            raise PermanentError(f"parameter {name!r} does not exist in UPIR {upir.name!r}")
        try:
            value = to_fraction(raw)
        except ValueError:
            raise PermanentError(f"parameter {name!r}: {raw!r} is not a finite number") from None
        comp, pname = name.split(".", 1)
        ctype = COMPONENT_TYPES[upir.architecture.component(comp).type]
        spec = ctype.params.get(pname)
        if spec is not None and (value < spec.lower or (spec.integer and value.denominator != 1)):
            kind = "a whole number " if spec.integer else ""
            raise PermanentError(f"parameter {name!r} must be {kind}>= {spec.lower}, got {value}")
        domain = upir.domain(name)
        if domain is not None and not domain.contains(value):
            raise PermanentError(
                f"parameter {name!r} = {value} lies outside its domain "
                f"[{domain.min}, {domain.max}]" + (f" step {domain.step}" if domain.step else "")
            )


def _certificate_info(
    envelope: Mapping[str, Any] | None, upir_name: str, content_hash: str
) -> tuple[str | None, str | None]:
    """keyId and payload digest of a certificate that covers exactly what is
    rendered. Signatures are checked where keys live (the operator, ``upir cert
    verify``); this only refuses to label a ConfigMap with a certificate about
    other values."""
    if envelope is None:
        return None, None
    payload = envelope.get("payload")
    key_id = envelope.get("keyId")
    if not isinstance(payload, str) or not isinstance(key_id, str):
        raise PermanentError("certificate must be a signed envelope with payload and keyId")
    try:
        cert = Certificate.from_payload(json.loads(payload))
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise PermanentError(f"certificate payload malformed: {err}") from None
    if cert.key_id != key_id:
        raise PermanentError("certificate payload keyId differs from its envelope")
    if cert.subject_name != upir_name or cert.content_hash != content_hash:
        raise PermanentError(
            "certificate does not cover these parameter values (subject or contentHash differ)"
        )
    return key_id, payload_digest(payload)


def _owner(owner: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if owner is None:
        return None
    unknown = sorted(set(owner) - set(_OWNER_REQUIRED) - set(_OWNER_FLAGS))
    if unknown:
        raise PermanentError(f"ownerReference has unknown fields {unknown}")
    out: dict[str, Any] = {}
    for key in _OWNER_REQUIRED:
        value = owner.get(key)
        if not isinstance(value, str) or not value:
            raise PermanentError(f"ownerReference.{key} must be a non-empty string")
        out[key] = value
    for key in _OWNER_FLAGS:
        if key in owner:
            if not isinstance(owner[key], bool):
                raise PermanentError(f"ownerReference.{key} must be true or false")
            out[key] = owner[key]
    return MappingProxyType(out)


def entry_service(upir: UPIR) -> str | None:
    """The first ``service`` component in topological order, if any."""
    arch = upir.architecture
    try:
        order = arch.topological_order()
    except ValueError:  # validation rejects cycles; keep declaration order regardless
        order = arch.names
    return next((n for n in order if arch.component(n).type == "service"), None)


def replica_plan(
    upir: UPIR, values: Mapping[str, Fraction], max_replicas: int | None
) -> ReplicaPlan:
    entry = entry_service(upir)
    if entry is None:
        return ReplicaPlan(component=None, replicas=None)
    replicas = int(values[f"{entry}.replicas"])
    domain = upir.domain(f"{entry}.replicas")
    if domain is None:
        return ReplicaPlan(component=entry, replicas=replicas)
    top = math.floor(domain.max)
    cap = _cost_cap(upir, values, entry)
    if cap is not None:
        top = min(top, cap)
    if max_replicas is not None:
        top = min(top, max_replicas)
    if top <= replicas:
        return ReplicaPlan(component=entry, replicas=replicas)
    return ReplicaPlan(component=entry, replicas=replicas, hpa_min=replicas, hpa_max=top)


def _cost_cap(upir: UPIR, values: Mapping[str, Fraction], entry: str) -> int | None:
    """Most replicas of ``entry`` the ``cost`` constraint allows, the other
    services staying at their values (cost = sum of replicas x cost_per_replica)."""
    budget = next((c.max for c in upir.specification.constraints if c.key == "cost"), None)
    per_replica = values[f"{entry}.cost_per_replica"]
    if budget is None or per_replica <= 0:
        return None
    others = sum(
        (
            values[f"{c.name}.replicas"] * values[f"{c.name}.cost_per_replica"]
            for c in upir.architecture.components
            if c.type == "service" and c.name != entry
        ),
        Fraction(0),
    )
    return math.floor((budget - others) / per_replica)
