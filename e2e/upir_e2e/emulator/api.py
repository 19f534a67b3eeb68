"""The HTTP face of the emulator: a kmock handler that serves the Kubernetes API.

:class:`KubernetesApiEmulator` is a ``kmock.RawHandler``: kmock's request
model, request log and reaction DSL stay available (a test can inject faults
with ``emulator['patch', kmock.resource('upir.dev/v1alpha1/upirs')] << 500``,
and those reactions take precedence), while every request that no reaction
answers is served from the :class:`~.store.Store` with the real API server's
URLs, verbs, status codes and bodies.

kmock's own parser cannot read ``/api/v1/namespaces`` (500) and has no action
for PUT, so this handler parses paths itself and fills kmock's Request fields.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal.rendering import ReactionMismatchError  # re-exported by kmock, not in __all__

from . import errors, protobuf, reviews, scale
from .controllers import (
    CONFIGMAPS,
    CRDS,
    NAMESPACES,
    SECRETS,
    Controllers,
    CrdStrategy,
    DataStrategy,
    NamespaceStrategy,
)
from .errors import ApiError
from .patching import json_patch, merge_patch, strategic_merge_patch
from .registry import Registry, ResourceType
from .routing import ApiPath, decode_body, discovery, json_response, parse_path
from .selectors import parse_field_selector, parse_label_selector, selectable_fields
from .store import APPLY, JSON_PATCH, MERGE, STRATEGIC, Obj, Store, WriteOptions
from .tables import table, wants_table
from .watch import Watch, WatchParams, render

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
_PATCH_TYPES = frozenset({MERGE, JSON_PATCH, STRATEGIC, APPLY})


@attrs.define(kw_only=True)
class KubernetesApiEmulator(kmock.RawHandler):
    """A stateful Kubernetes API server behind kmock's handler interface.

    ``token``: when set, every request but /version and the health checks must
    carry ``Authorization: Bearer <token>``. ``history_size``: how many events
    watches can resume from (older versions answer 410 Gone).
    ``bookmark_interval``: seconds between BOOKMARK events of watches that allow them.
    ``watch_timeout``: seconds a watch without ``timeoutSeconds`` lasts (1x-2x, random).
    ``max_recorded_requests``: how many requests kmock's log keeps (oldest dropped).
    """

    token: str | None = None
    history_size: int = 20_000
    bookmark_interval: float = 15.0
    watch_timeout: float = 1800.0
    max_recorded_requests: int = 10_000
    server_address: str = "127.0.0.1:0"

    registry: Registry = attrs.field(init=False)
    store: Store = attrs.field(init=False)
    controllers: Controllers = attrs.field(init=False)
    _controller_task: asyncio.Task[None] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        self.registry = Registry()
        self.store = Store(self.registry, history_size=self.history_size)
        self.store.strategies[NAMESPACES] = NamespaceStrategy()
        self.store.strategies[CRDS] = CrdStrategy()
        self.store.strategies[SECRETS] = self.store.strategies[CONFIGMAPS] = DataStrategy()
        self.controllers = Controllers(self.store)
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None  # the bundled catalogue always has namespaces
        for name in DEFAULT_NAMESPACES:
            self.store.create(
                namespaces, None, {"metadata": {"name": name}}, WriteOptions("kube-apiserver")
            )
        self.controllers.process_pending()

    async def __aenter__(self) -> KubernetesApiEmulator:
        await super().__aenter__()
        if self._controller_task is None:
            self._controller_task = asyncio.create_task(
                self.controllers.run(), name="emulator-controllers"
            )
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._controller_task is not None:
            self._controller_task.cancel()
            try:
                await self._controller_task
            except asyncio.CancelledError:
                pass
            self._controller_task = None
        await super().__aexit__(*exc_info)

    # ------------------------------------------------------------- entry

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        try:
            request = await self._parse(raw_request)
            self._requests.append(request)  # kmock's log: reactions match against it
            try:
                return await self._handle(request)
            finally:
                if len(self._requests) > self.max_recorded_requests * 1.1:  # trim in batches
                    del self._requests[: len(self._requests) - self.max_recorded_requests]
        except ApiError as exc:
            return json_response(exc.to_status(), exc.code)
        except Exception as exc:  # a bug of ours must still answer like a server: 500 Status
            log.exception("emulator failed on %s %s", raw_request.method, raw_request.path)
            status = ApiError(500, "InternalError", f"Internal error occurred: {exc!r}")
            return json_response(status.to_status(), 500)

    async def _parse(self, raw: aiohttp.web.BaseRequest) -> kmock.Request:
        body = await raw.read()
        path = parse_path(raw.path)
        content_type = raw.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            data = decode_body(body, content_type)
        except ApiError:
            data = None
        resource = None
        action: kmock.action | None = None
        if path.kind == "resource":
            resource = kmock.resource(path.group, path.version, path.plural)
            watch = path.watch_prefix or raw.query.get("watch", "").lower() in ("true", "1")
            action = {
                "GET": kmock.action.WATCH
                if watch
                else (kmock.action.FETCH if path.name else kmock.action.LIST),
                "POST": kmock.action.CREATE,
                "PUT": kmock.action.UPDATE,
                "PATCH": kmock.action.UPDATE,
                "DELETE": kmock.action.DELETE,
            }.get(raw.method)
        return kmock.Request(
            id=len(self._requests),
            raw_request=raw,
            url=raw.url,
            method=raw.method,
            params=dict(raw.query),
            headers=dict(raw.headers),
            cookies=dict(raw.cookies),
            body=body,
            text=body.decode("utf-8", "replace"),
            data=data,
            action=action,
            resource=resource,
            namespace=path.namespace if path.kind == "resource" else None,
            name=path.name if path.kind == "resource" else None,
            subresource=path.subresource or None,
        )

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if self.token is not None and request.url.path not in _PUBLIC_PATHS:
            raw = request._raw_request
            header = raw.headers.get("Authorization", "") if raw is not None else ""
            if header != f"Bearer {self.token}":
                raise errors.unauthorized()
        reacted = await self._user_reaction(request)
        if reacted is not None:
            return reacted
        return await self._serve(request)

    async def _user_reaction(self, request: kmock.Request) -> aiohttp.web.StreamResponse | None:
        """Reactions a test added with kmock's DSL, in kmock's priority order.

        The same selection as ``kmock.RawHandler._handle`` (hence its private fields),
        except that fallback reactions (priority -inf) never shadow the API: with no
        user reaction matching, None, and the API serves the request.
        """
        payloads = [p for p in self._payloads if -math.inf not in p.priorities]
        if not payloads:
            return None
        width = max(len(p.priorities) for p in payloads)
        ranked = sorted(
            payloads,
            key=lambda p: tuple(-x for x in p.priorities) + (0,) * (width - len(p.priorities)),
        )
        for payload in ranked:
            if request in payload._source and not payload._disabled.is_set():
                try:
                    return await payload(request)
                except ReactionMismatchError:
                    payload._disabled.set()
                except NotImplementedError:
                    pass
        return None

    # ----------------------------------------------------------- routing

    async def _serve(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        path = parse_path(request.url.path)
        method = str(request.method.value).upper()
        if path.kind != "resource":
            if method != "GET":
                raise errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                )
            return discovery(self.registry, path, self.server_address)
        rt = self.registry.get(path.group, path.version, path.plural)
        if rt is None or (path.namespace is not None and not rt.namespaced):
            raise errors.page_not_found()
        if path.subresource and (
            path.subresource not in rt.subresources
            or path.subresource not in ("status", "finalize", "scale")
        ):
            raise errors.page_not_found()
        if path.subresource == "scale" and path.name is not None:
            return self._scale(request, rt, path, method)
        query = request.params
        watch = path.watch_prefix or query.get("watch", "").lower() in ("true", "1")
        if method == "GET":
            if watch:
                return await self._watch(request, rt, path)
            if path.name is None:
                return self._list(request, rt, path)
            self._allow(rt, "get")
            obj = self.store.get(rt, path.namespace, path.name)
            return self._object_response(request, rt, obj)
        if method == "POST" and path.name is None:
            return self._create(request, rt, path)
        if method == "PUT" and path.name is not None:
            return self._update(request, rt, path)
        if method == "PATCH" and path.name is not None:
            return self._patch(request, rt, path)
        if method == "DELETE":
            if path.name is None:
                return self._delete_collection(request, rt, path)
            return self._delete(request, rt, path)
        raise errors.method_not_allowed(
            "the server does not allow this method on the requested resource"
        )

    # ------------------------------------------------------------ verbs

    def _scale(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath, method: str
    ) -> aiohttp.web.Response:
        assert path.name is not None
        old = self.store.get(rt, path.namespace, path.name)
        if method == "GET":
            return json_response(scale.to_scale(rt, old))
        opts = self._options(request)
        if method == "PUT":
            wanted = self._body(request)
        elif method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
            current = scale.to_scale(rt, old)
            body = decode_body(request.body, "yaml" if content_type == APPLY else "json")
            if content_type in (MERGE, APPLY) and isinstance(body, Mapping):
                wanted = merge_patch(current, body)
            elif content_type == STRATEGIC and isinstance(body, Mapping):
                wanted = strategic_merge_patch(current, body)
            elif content_type == JSON_PATCH:
                wanted = json_patch(current, body)
            else:
                raise errors.unsupported_media_type(content_type)
        else:
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        obj = self.store.update(
            rt, path.namespace, path.name, scale.with_replicas(rt, old, wanted), opts
        )
        return json_response(scale.to_scale(rt, obj))

    def _allow(self, rt: ResourceType, verb: str) -> None:
        if verb not in rt.verbs:
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )

    def _now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def _object_response(
        self,
        request: kmock.Request,
        rt: ResourceType,
        obj: Obj,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> aiohttp.web.Response:
        rendered = render(rt, obj)
        if wants_table(request.headers.get("Accept", "")) and request.method == kmock.method.GET:
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return json_response(
                table(
                    rt,
                    [rendered],
                    meta,
                    self._now(),
                    request.params.get("includeObject", "Metadata"),
                )
            )
        return json_response(rendered, status, warnings)

    def _selectors(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> tuple[Any, Any]:
        labels = parse_label_selector(request.params.get("labelSelector"))
        allowed = selectable_fields(rt.group, rt.plural, rt.selectable_fields)
        text = request.params.get("fieldSelector") or ""
        if path.name is not None:  # a watch on one named object
            text = ",".join(t for t in (text, f"metadata.name={path.name}") if t)
        return labels, parse_field_selector(text, allowed)

    def _list(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "list")
        labels, fields = self._selectors(request, rt, path)
        try:
            limit = int(request.params.get("limit") or 0)
        except ValueError as exc:
            raise errors.bad_request("limit must be an integer") from exc
        items, rv, token = self.store.list_objects(
            rt,
            path.namespace,
            labels,
            fields,
            limit=max(limit, 0),
            continue_token=request.params.get("continue", ""),
        )
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
        rendered = [render(rt, obj) for obj in items]
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                table(
                    rt, rendered, meta, self._now(), request.params.get("includeObject", "Metadata")
                )
            )
        if rt.builtin:  # a real server's lists of built-in types carry no per-item kind/apiVersion
            rendered = [
                {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                for obj in rendered
            ]
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.group_version,
                "metadata": meta,
                "items": rendered,
            }
        )

    async def _watch(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.StreamResponse:
        self._allow(rt, "watch")
        labels, fields = self._selectors(request, rt, path)
        params = WatchParams.from_query(request.params)
        watch = Watch(
            self.store,
            rt,
            path.namespace,
            labels,
            fields,
            params,
            bookmark_interval=self.bookmark_interval,
            default_timeout=self.watch_timeout,
        )
        as_table = wants_table(request.headers.get("Accept", ""))
        raw = request._raw_request
        assert raw is not None  # always set for requests that came over HTTP
        watch.start()  # a bad request fails here, before the headers go out
        stream = watch.events()
        response = aiohttp.web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        response.enable_chunked_encoding()
        await response.prepare(raw)
        try:
            async for event in stream:
                if as_table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    obj = event["object"]
                    meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                    event = {"type": event["type"], "object": table(rt, [obj], meta, self._now())}
                await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away
        finally:
            await stream.aclose()
        return response

    def _options(self, request: kmock.Request) -> WriteOptions:
        params = request.params
        dry_run = params.get("dryRun")
        if dry_run not in (None, "", "All"):
            raise errors.bad_request(
                f'dryRun: Unsupported value: "{dry_run}": supported values: "All"'
            )
        validation = params.get("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{validation}"')
        manager = params.get("fieldManager") or ""
        if not manager:
            agent = request.headers.get("User-Agent", "") or "unknown"
            manager = agent.split("/")[0] or "unknown"
        return WriteOptions(
            manager=manager,
            dry_run=dry_run == "All",
            force=params.get("force", "").lower() == "true",
            field_validation=validation,
        )

    def _body(self, request: kmock.Request) -> Any:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(request.body)
        if "protobuf" in content_type or "cbor" in content_type:
            raise errors.unsupported_media_type(content_type)
        return decode_body(request.body, content_type)

    def _create(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "create")
        if rt.namespaced and path.namespace is None:
            raise errors.page_not_found()
        if reviews.is_review(rt):
            return json_response(
                reviews.answer(rt, self._body(request), path.namespace, self.token), 201
            )
        self._check_crd_active(rt)
        opts = self._options(request)
        obj = self.store.create(rt, path.namespace, self._body(request), opts)
        return self._object_response(request, rt, obj, 201, opts.warnings)

    def _update(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "update")
        assert path.name is not None
        opts = self._options(request)
        obj = self.store.update(
            rt, path.namespace, path.name, self._body(request), opts, subresource=path.subresource
        )
        return self._object_response(request, rt, obj, 200, opts.warnings)

    def _patch(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "patch")
        assert path.name is not None
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in _PATCH_TYPES:
            raise errors.unsupported_media_type(content_type)
        opts = self._options(request)
        if (
            content_type == APPLY
            and self.store.find(rt.store_key, path.namespace if rt.namespaced else None, path.name)
            is None
        ):
            self._check_crd_active(rt)
            if rt.namespaced and path.namespace is None:
                raise errors.page_not_found()
        patch = decode_body(request.body, "yaml" if content_type == APPLY else "json")
        obj, created = self.store.patch(
            rt, path.namespace, path.name, content_type, patch, opts, subresource=path.subresource
        )
        return self._object_response(request, rt, obj, 201 if created else 200, opts.warnings)

    def _delete_options(self, request: kmock.Request) -> tuple[str | None, Mapping[str, Any], bool]:
        body = self._body(request) if request.body else None
        options: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        policy = request.params.get("propagationPolicy") or options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        dry = request.params.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        return policy, options.get("preconditions") or {}, dry

    def _delete(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "delete")
        assert path.name is not None
        policy, preconditions, dry = self._delete_options(request)
        obj, gone = self.store.delete(
            rt,
            path.namespace,
            path.name,
            propagation=policy,
            preconditions=preconditions,
            dry_run=dry,
        )
        if gone and rt.builtin:
            details = {"name": path.name, "kind": rt.plural, "uid": obj["metadata"]["uid"]}
            if rt.group:
                details["group"] = rt.group
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return self._object_response(request, rt, obj)

    def _delete_collection(
        self, request: kmock.Request, rt: ResourceType, path: ApiPath
    ) -> aiohttp.web.Response:
        self._allow(rt, "deletecollection")
        labels, fields = self._selectors(request, rt, path)
        policy, preconditions, dry = self._delete_options(request)
        items, _, _ = self.store.list_objects(rt, path.namespace, labels, fields)
        for obj in list(items):
            meta = obj["metadata"]
            try:
                self.store.delete(
                    rt, meta.get("namespace"), meta["name"], propagation=policy, dry_run=dry
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        )

    def _check_crd_active(self, rt: ResourceType) -> None:
        if not rt.crd_name:
            return
        crd = self.store.find(CRDS, None, rt.crd_name)
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            raise errors.method_not_allowed(
                "create not allowed while custom resource definition is terminating"
            )
