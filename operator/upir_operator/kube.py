"""The operator's own Kubernetes layer: applies manifests built elsewhere.

Handlers never talk to the API directly; they hand pure manifests (from
``upir.templates``) to :class:`Kube`, which applies them with server-side apply
under one field manager, falling back to create / merge-patch where an API server
lacks apply. Errors are mapped to kopf's retry semantics: conflicts, timeouts and
5xx are temporary; 4xx caused by the manifest are permanent.

The kubernetes client is synchronous; every call runs in a worker thread so the
event loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the API (the operator's RBAC lists exactly these)."""

    api_version: str
    kind: str
    plural: str

    def path(self, namespace: str, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{path}/{name}" if name else path


# Every kind the operator writes. The chart's RBAC test compares its rules with this table.
RESOURCES: Mapping[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        Resource("v1", "ConfigMap", "configmaps"),
        Resource("v1", "Service", "services"),
        Resource("v1", "Event", "events"),
        Resource("apps/v1", "Deployment", "deployments"),
        Resource("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Resource("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        Resource("upir.dev/v1alpha1", "UPIR", "upirs"),
    )
}


class KubeError(Exception):
    """An API call failed; ``temporary`` says whether a retry can help."""

    def __init__(self, message: str, *, temporary: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.status = status


def _is_temporary(status: int | None) -> bool:
    return status is None or status in (409, 429) or status >= 500


def resource_for(manifest: Mapping[str, Any]) -> Resource:
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    if key not in RESOURCES:
        raise KubeError(f"the operator does not manage {key[1]} ({key[0]})", temporary=False)
    return RESOURCES[key]


class Kube:
    """Thin async facade over a kubernetes ``ApiClient``."""

    def __init__(self, api: kubernetes.client.ApiClient, field_manager: str) -> None:
        self._api = api
        self._fm = field_manager

    @classmethod
    def from_environment(cls, field_manager: str, kubeconfig: str | None = None) -> Kube:
        """In-cluster config when running in a pod, else the kubeconfig file."""
        config = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(config_file=kubeconfig, client_configuration=config)  # type: ignore[no-untyped-call]
        return cls(kubernetes.client.ApiClient(config), field_manager)

    def _call_sync(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> Any:
        try:
            # kubernetes>=31: serialize (auth, host, query) first, then call
            _method, url, headers, data, post = self._api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
            )
            resp = self._api.call_api(_method, url, headers, data, post, _request_timeout=30)
            resp.read()  # type: ignore[no-untyped-call]
            status, payload = resp.status, resp.data or b""
        except ApiException as err:
            raise KubeError(
                f"{method} {path}: {err.status} {err.reason}: {str(err.body)[:300]}",
                temporary=_is_temporary(err.status),
                status=err.status,
            ) from None
        except Exception as err:  # connection refused, TLS, timeouts: retry later
            raise KubeError(f"{method} {path}: {err}", temporary=True) from None
        if status >= 400:
            raise KubeError(
                f"{method} {path}: {status}: {payload[:300]!r}",
                temporary=_is_temporary(status),
                status=status,
            )
        return json.loads(payload) if payload else None

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return await asyncio.to_thread(self._call_sync, method, path, body, **kw)

    async def get(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        res = resource_for(manifest)
        meta = manifest["metadata"]
        try:
            got: dict[str, Any] = await self.call("GET", res.path(meta["namespace"], meta["name"]))
            return got
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply (force, our field manager); create / merge-patch when
        the server does not support apply."""
        res = resource_for(manifest)
        meta = manifest["metadata"]
        path = res.path(meta["namespace"], meta["name"])
        try:
            out: dict[str, Any] = await self.call(
                "PATCH",
                path,
                json.dumps(manifest),
                content_type="application/apply-patch+yaml",
                query=[("fieldManager", self._fm), ("force", "true")],
            )
            return out
        except KubeError as err:
            if err.status not in (400, 404, 405, 415):
                raise
            logger.debug(
                "server-side apply unavailable for %s (%s); merge-patching", path, err.status
            )
        try:
            out = await self.call(
                "PATCH",
                path,
                manifest,
                content_type="application/merge-patch+json",
                query=[("fieldManager", self._fm)],
            )
            return out
        except KubeError as err:
            if err.status != 404:
                raise
        out = await self.call(
            "POST", res.path(meta["namespace"]), manifest, query=[("fieldManager", self._fm)]
        )
        return out

    async def delete(self, manifest: Mapping[str, Any]) -> None:
        res = resource_for(manifest)
        meta = manifest["metadata"]
        try:
            await self.call("DELETE", res.path(meta["namespace"], meta["name"]))
        except KubeError as err:
            if err.status != 404:
                raise

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        res = RESOURCES[("upir.dev/v1alpha1", "UPIR")]
        await self.call(
            "PATCH",
            res.path(namespace, name) + "/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )
