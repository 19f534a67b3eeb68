"""The operator's own Kubernetes layer: applies manifests built elsewhere.

Handlers never talk to the API directly; they hand pure manifests (from
``upir.templates``) to :class:`Kube`, which applies them with server-side apply
under one field manager, falling back to create / merge-patch where an API server
lacks apply. Apply never forces: a field another manager owns (Argo CD, Flux,
Helm, kubectl) is not taken; the server's 409 becomes a :class:`FieldConflict`
naming the fields and their managers. Only ``force=True`` (the documented
``upir.dev/force-apply`` opt-in) transfers ownership. Other errors are mapped to
kopf's retry semantics: resourceVersion conflicts, timeouts and 5xx are
temporary; 4xx caused by the manifest are permanent.

The kubernetes client is synchronous; every call runs in a worker thread so the
event loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)


GET, APPLY, CREATE = "get", "apply", "create"
"""What :class:`Kube` may do with a kind: read it (RBAC ``get``), server-side
apply / merge-patch it (``patch``), create it when apply is unavailable
(``create``)."""


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the API, and what the operator does with it. The
    chart's RBAC grants exactly these operations (tests/integration/chart derives
    the rules from the requests Kube makes and compares both ways); Kube refuses
    any other."""

    api_version: str
    kind: str
    plural: str
    operations: frozenset[str] = frozenset()

    def path(self, namespace: str, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{path}/{name}" if name else path


# Every kind the operator reads or writes, with exactly the operations its code
# uses. Events are posted by kopf (kopf.event), UPIRs read through kopf's watch;
# only their status is written here (patch_status). Nothing is ever deleted: what
# the operator creates carries an ownerReference and goes with its UPIR.
RESOURCES: Mapping[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        # the parameters ConfigMap (apply) and the learner checkpoint (get + apply)
        Resource("v1", "ConfigMap", "configmaps", frozenset({GET, APPLY, CREATE})),
        Resource("v1", "Service", "services", frozenset({APPLY, CREATE})),
        # the user's Deployment: read (the target) and patched, never created
        Resource("apps/v1", "Deployment", "deployments", frozenset({GET, APPLY})),
        Resource(
            "policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", frozenset({APPLY, CREATE})
        ),
        Resource(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            frozenset({APPLY, CREATE}),
        ),
        Resource("upir.dev/v1alpha1", "UPIR", "upirs"),
    )
}


class KubeError(Exception):
    """An API call failed; ``temporary`` says whether a retry can help."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        status: int | None = None,
        causes: tuple[Mapping[str, Any], ...] = (),
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.status = status
        self.causes = causes
        """``details.causes`` of the server's Status (reason, message, field)."""


_MANAGER_RE = re.compile(r'conflict with "([^"]*)"')


@dataclass(frozen=True, slots=True)
class Conflict:
    """One field another manager owns, from a server-side apply 409."""

    field: str
    manager: str


class FieldConflict(KubeError):
    """Server-side apply refused to take fields another manager owns. Not
    retried on its own: the owner has to give the fields up, or the user opts
    in to taking them (``upir.dev/force-apply``)."""

    def __init__(self, message: str, conflicts: tuple[Conflict, ...]) -> None:
        super().__init__(message, temporary=False, status=409)
        self.conflicts = conflicts

    def describe(self) -> str:
        """``.spec.replicas (owned by "argocd-controller"), ...``"""
        return ", ".join(f'{c.field} (owned by "{c.manager}")' for c in self.conflicts)


def _causes(body: Any) -> tuple[Mapping[str, Any], ...]:
    try:
        status = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError:
        return ()
    if not isinstance(status, Mapping):
        return ()
    causes = (status.get("details") or {}).get("causes") or []
    return tuple(c for c in causes if isinstance(c, Mapping))


def _error(message: str, status: int | None, body: Any) -> KubeError:
    causes = _causes(body)
    conflicts = tuple(
        Conflict(str(c.get("field", "")), m.group(1))
        for c in causes
        if c.get("reason") == "FieldManagerConflict"
        and (m := _MANAGER_RE.search(str(c.get("message", "")))) is not None
    )
    if status == 409 and conflicts:
        return FieldConflict(message, conflicts)
    return KubeError(message, temporary=_is_temporary(status), status=status, causes=causes)


def _is_temporary(status: int | None) -> bool:
    return status is None or status in (409, 429) or status >= 500


def _message(body: Any) -> str:
    """The Status message of an error body (or its first 300 characters)."""
    try:
        status = json.loads(body) if isinstance(body, str | bytes) else body
        if isinstance(status, Mapping) and status.get("message"):
            return str(status["message"])[:600]
    except ValueError:
        pass
    return repr(body)[:300]


def resource_for(manifest: Mapping[str, Any], operation: str) -> Resource:
    key = (str(manifest.get("apiVersion")), str(manifest.get("kind")))
    res = RESOURCES.get(key)
    if res is None or operation not in res.operations:
        raise KubeError(
            f"the operator does not {operation} {key[1]} ({key[0]}): not in kube.RESOURCES",
            temporary=False,
        )
    return res


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
            raise _error(
                f"{method} {path}: {err.status} {err.reason}: {_message(err.body)}",
                err.status,
                err.body,
            ) from None
        except Exception as err:  # connection refused, TLS, timeouts: retry later
            raise KubeError(f"{method} {path}: {err}", temporary=True) from None
        if status >= 400:
            raise _error(f"{method} {path}: {status}: {_message(payload)}", status, payload)
        return json.loads(payload) if payload else None

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return await asyncio.to_thread(self._call_sync, method, path, body, **kw)

    async def get(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        res = resource_for(manifest, GET)
        meta = manifest["metadata"]
        try:
            got: dict[str, Any] = await self.call("GET", res.path(meta["namespace"], meta["name"]))
            return got
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def apply(self, manifest: Mapping[str, Any], *, force: bool = False) -> dict[str, Any]:
        """Server-side apply under our field manager, without force unless asked:
        a field another manager owns raises :class:`FieldConflict`. Create /
        merge-patch when the server does not support apply (create only for kinds
        the operator creates: never the user's Deployment)."""
        res = resource_for(manifest, APPLY)
        meta = manifest["metadata"]
        path = res.path(meta["namespace"], meta["name"])
        query = [("fieldManager", self._fm)] + ([("force", "true")] if force else [])
        try:
            out: dict[str, Any] = await self.call(
                "PATCH",
                path,
                json.dumps(manifest),
                content_type="application/apply-patch+yaml",
                query=query,
            )
            return out
        except KubeError as err:
            if err.status not in (400, 404, 405, 415) or isinstance(err, FieldConflict):
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
            if err.status != 404 or CREATE not in res.operations:
                raise
        out = await self.call(
            "POST", res.path(meta["namespace"]), manifest, query=[("fieldManager", self._fm)]
        )
        return out

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        res = RESOURCES[("upir.dev/v1alpha1", "UPIR")]
        await self.call(
            "PATCH",
            res.path(namespace, name) + "/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )
