"""The object store: the API server's write rules over an in-memory etcd.

Every write goes through the same steps as on a real server: optimistic
concurrency on ``metadata.resourceVersion`` (409 on a stale version), system
metadata the client cannot set (uid, creationTimestamp, generation), the
status subresource split, schema pruning/defaulting/validation for custom
resources, field ownership, no-op detection (an unchanged object keeps its
resourceVersion and makes no event), and deletion through finalizers. Each
committed change gets the next value of one global resourceVersion counter
and one watch event, kept in a bounded history so that watches can resume
from a resourceVersion (and get 410 Gone once it has been compacted away).

The store is synchronous and single-threaded (it lives on the server's event
loop); controllers that act on its events live in ``controllers.py``.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import errors, fieldmanager, schema
from .errors import ApiError, Cause
from .fieldmanager import ManagerEntry
from .patching import json_equal, json_patch, merge_patch, strategic_merge_patch
from .records import (
    APPLY,
    JSON_PATCH,
    MERGE,
    STRATEGIC,
    SYSTEM_META,
    Obj,
    ObjKey,
    StoreKey,
    Strategy,
    WatchEvent,
    WriteOptions,
    check_identity,
    check_kind,
    content,
    decode_continue,
    encode_continue,
    normalize,
    rfc3339,
    spec_changed,
    split_subresource,
)
from .registry import Registry, ResourceType
from .selectors import FieldSelector, LabelSelector, field_getter, selectable_fields
from .validation import validate_metadata

__all__ = [
    "APPLY",
    "JSON_PATCH",
    "MERGE",
    "STRATEGIC",
    "Obj",
    "Store",
    "StoreKey",
    "WatchEvent",
    "WriteOptions",
]

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apiserver's generateName alphabet


class Store:
    def __init__(
        self,
        registry: Registry,
        *,
        history_size: int = 20_000,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.registry = registry
        self.strategies: dict[StoreKey, Strategy] = {}
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._objects: dict[StoreKey, dict[ObjKey, Obj]] = {}
        self._rv = 0
        self._history: deque[WatchEvent] = deque(maxlen=history_size)
        self._uids: dict[str, tuple[StoreKey, ObjKey]] = {}
        self._dependents: dict[str, set[tuple[StoreKey, ObjKey]]] = {}
        self._listeners: set[Callable[[], None]] = set()

    # --------------------------------------------------------------- reading

    @property
    def resource_version(self) -> int:
        return self._rv

    def now(self) -> str:
        return rfc3339(self._clock())

    def find(self, store_key: StoreKey, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get(store_key, {}).get((namespace, name))

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.find(rt.store_key, namespace if rt.namespaced else None, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def objects(self, store_key: StoreKey, namespace: str | None = None) -> Iterator[Obj]:
        for (ns, _), obj in sorted(
            self._objects.get(store_key, {}).items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        ):
            if namespace is None or ns == namespace:
                yield obj

    def store_keys(self) -> list[StoreKey]:
        return sorted(self._objects)

    def by_uid(self, uid: str) -> Obj | None:
        where = self._uids.get(uid)
        return None if where is None else self.find(where[0], *where[1])

    def store_key_of_uid(self, uid: str) -> StoreKey | None:
        where = self._uids.get(uid)
        return None if where is None else where[0]

    def dependents(self, owner_uid: str) -> list[tuple[StoreKey, Obj]]:
        out = []
        for store_key, (ns, name) in sorted(self._dependents.get(owner_uid, set()), key=str):
            obj = self.find(store_key, ns, name)
            if obj is not None:
                out.append((store_key, obj))
        return out

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> tuple[list[Obj], str, str]:
        """Matching objects, the list's resourceVersion, and a continue token."""
        start = decode_continue(continue_token) if continue_token else None
        getter = field_getter(selectable_fields(rt.group, rt.plural, rt.selectable_fields))
        items: list[Obj] = []
        token = ""
        for obj in self.objects(rt.store_key, namespace if rt.namespaced else None):
            meta = obj["metadata"]
            position = (meta.get("namespace") or "", meta["name"])
            if start is not None and position <= start:
                continue
            if not labels.matches(meta.get("labels")) or not fields.matches(getter(obj)):
                continue
            if limit and len(items) >= limit:
                token = encode_continue(items[-1])
                break
            items.append(obj)
        return items, str(self._rv), token

    # --------------------------------------------------------------- history

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every commit; returns the unsubscribe function."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def events_since(self, rv: int) -> list[WatchEvent]:
        """Events after ``rv``; 410 Gone when some of them were compacted away."""
        if rv >= self._rv:
            return []
        oldest = self._history[0].rv if self._history else self._rv + 1
        if rv < oldest - 1:
            raise errors.gone(f"too old resource version: {rv} ({oldest - 1})")
        # Versions are contiguous, so the newest (current - rv) events are the answer;
        # reading them from the right keeps a watch's wake-up O(new events).
        newest = list(itertools.islice(reversed(self._history), self._rv - rv))
        newest.reverse()
        return newest

    # --------------------------------------------------------------- writing

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        opts: WriteOptions,
        *,
        entries: list[ManagerEntry] | None = None,
    ) -> Obj:
        if not isinstance(body, Mapping):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        new: Obj = copy.deepcopy(dict(body))
        meta = new.get("metadata") or {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        new["metadata"] = meta
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        check_kind(rt, new)
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or meta.get("namespace") or "default"
            meta["namespace"] = namespace
            self._check_namespace(rt, namespace, meta.get("name") or meta.get("generateName") or "")
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(rt, namespace, str(meta["generateName"]))
        for key in (*SYSTEM_META, "resourceVersion", "managedFields"):
            meta.pop(key, None)
        if rt.has_status:
            new.pop("status", None)
        self._prepare(rt, None, new, opts)
        meta = new["metadata"]  # schema defaulting may have rebuilt the dict
        name = str(meta.get("name") or "")
        if name and self.find(rt.store_key, meta.get("namespace"), name) is not None:
            raise errors.already_exists(rt.plural, rt.group, name)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        if rt.tracks_generation:
            meta["generation"] = 1
        if entries is None:
            entries = fieldmanager.record_update(
                [],
                manager=opts.manager,
                api_version=rt.group_version,
                subresource="",
                old=None,
                new=new,
                now=self.now(),
            )
        meta["managedFields"] = fieldmanager.render_entries(entries)
        normalize(new)
        return self._commit(rt, None, new, dry_run=opts.dry_run)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        opts: WriteOptions,
        *,
        subresource: str = "",
    ) -> Obj:
        """PUT: replace the object (or only its status through the subresource)."""
        old = self.get(rt, namespace, name)
        if not isinstance(body, Mapping) or not isinstance(body.get("metadata", {}), Mapping):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        body = copy.deepcopy(dict(body))
        check_kind(rt, body)
        check_identity(rt, old, body)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
        if not rv and not rt.builtin:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                [
                    Cause(
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )
                ],
            )
        new = split_subresource(rt, old, body, subresource)
        return self._finish(rt, old, new, opts, subresource=subresource)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        opts: WriteOptions,
        *,
        subresource: str = "",
    ) -> tuple[Obj, bool]:
        """PATCH in any of the four formats; returns (object, created)."""
        if patch_type == APPLY:
            return self._apply(rt, namespace, name, patch, opts, subresource=subresource)
        old = self.get(rt, namespace, name)
        if patch_type == MERGE:
            if not isinstance(patch, Mapping):
                raise errors.bad_request("a merge patch must be a JSON object")
            patched = merge_patch(old, patch)
        elif patch_type == JSON_PATCH:
            patched = json_patch(old, patch)
        elif patch_type == STRATEGIC:
            if not rt.builtin:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; use a JSON merge patch or a JSON patch",
                )
            patched = strategic_merge_patch(old, patch)
        else:
            raise errors.unsupported_media_type(patch_type)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise errors.bad_request("the patched object is not a Kubernetes object")
        rv = patched["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
        check_identity(rt, old, patched)
        new = split_subresource(rt, old, patched, subresource)
        return self._finish(rt, old, new, opts, subresource=subresource), False

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        config: Any,
        opts: WriteOptions,
        *,
        subresource: str,
    ) -> tuple[Obj, bool]:
        manager, force = opts.manager, opts.force
        if not manager:
            raise errors.bad_request(
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
            )
        if not isinstance(config, Mapping):
            raise errors.bad_request("an apply patch must be an object")
        config = copy.deepcopy(dict(config))
        if not config.get("apiVersion") or not config.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in an apply patch")
        check_kind(rt, config)
        meta = config.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if subresource == "status":
            config = {
                "apiVersion": config["apiVersion"],
                "kind": config["kind"],
                "metadata": {"name": name},
                "status": config.get("status"),
            }
        elif rt.has_status:
            config.pop("status", None)
        old = self.find(rt.store_key, namespace if rt.namespaced else None, name)
        if old is None:
            if subresource:
                raise errors.not_found(rt.plural, rt.group, name)
            merged, entries = fieldmanager.apply(
                None,
                config,
                [],
                manager=manager,
                api_version=rt.group_version,
                subresource="",
                force=force,
                builtin=rt.builtin,
                now=self.now(),
            )
            return self.create(rt, namespace, merged, opts, entries=entries), True
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE)
        merged, entries = fieldmanager.apply(
            old,
            config,
            fieldmanager.parse_entries(old["metadata"]),
            manager=manager,
            api_version=rt.group_version,
            subresource=subresource,
            force=force,
            builtin=rt.builtin,
            now=self.now(),
        )
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        new = split_subresource(rt, old, merged, subresource)
        return self._finish(rt, old, new, opts, subresource=subresource, entries=entries), False

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """DELETE; returns (object, gone). Not gone: finalizers hold it (202)."""
        old = self.get(rt, namespace, name)
        meta = old["metadata"]
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta['uid']}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.conflict(
                rt.plural,
                rt.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        if propagation not in (None, "Background", "Foreground", "Orphan"):
            raise errors.bad_request(f"propagationPolicy: Unsupported value: {propagation!r}")
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        strategy = self.strategies.get(rt.store_key)
        held = bool(finalizers) or (strategy is not None and strategy.blocks_deletion(old))
        if meta.get("deletionTimestamp"):
            if finalizers == list(meta.get("finalizers") or []):
                return old, False
            new = copy.deepcopy(old)
            new["metadata"]["finalizers"] = finalizers
            return self._commit(rt, old, new, dry_run=dry_run), False
        if not held:
            gone = copy.deepcopy(old)
            return self._commit(rt, old, gone, dry_run=dry_run, deleted=True), True
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = self.now()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["metadata"]["finalizers"] = finalizers
        if "generation" in new["metadata"]:
            new["metadata"]["generation"] += 1
        if strategy is not None:
            strategy.on_delete(self, rt, new)
        normalize(new)
        return self._commit(rt, old, new, dry_run=dry_run), False

    # ------------------------------------------------------------- internals

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        ns = self.find(("", "namespaces"), None, namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                rt.plural,
                rt.group,
                name,
                f'{errors.qualified(rt.plural, rt.group)} "{name}" is forbidden: unable to create new content in namespace {namespace} because it is being terminated',
            )

    def _generate_name(self, rt: ResourceType, namespace: str | None, prefix: str) -> str:
        for _ in range(16):
            name = prefix[:58] + "".join(random.choices(_NAME_ALPHABET, k=5))
            if self.find(rt.store_key, namespace, name) is None:
                return name
        raise errors.already_exists(rt.plural, rt.group, prefix)

    def _prepare(self, rt: ResourceType, old: Obj | None, new: Obj, opts: WriteOptions) -> None:
        """Strategy hooks, schema pruning/defaulting/validation and metadata validation."""
        new["apiVersion"] = rt.group_version
        new["kind"] = rt.kind
        strategy = self.strategies.get(rt.store_key)
        if strategy is not None:
            strategy.prepare(self, rt, old, new)
        causes: list[Cause] = []
        if rt.schema is not None:
            pruned, dropped = schema.prune(new, rt.schema)
            if dropped and opts.field_validation == "Strict":
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in dropped)
                )
            if dropped and opts.field_validation != "Ignore":
                opts.warnings.extend(f'unknown field "{p}"' for p in dropped)
            pruned = schema.apply_defaults(pruned, rt.schema)
            new.clear()
            new.update(pruned)
            causes += schema.validate(new, rt.schema)
        causes += validate_metadata(new["metadata"], rt.name_rule)
        if strategy is not None:
            causes += strategy.validate(self, rt, old, new)
        if causes:
            name = new["metadata"].get("name") or new["metadata"].get("generateName") or ""
            raise errors.invalid(rt.kind, rt.group, str(name), causes)

    def _finish(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        opts: WriteOptions,
        *,
        subresource: str,
        entries: list[ManagerEntry] | None = None,
    ) -> Obj:
        old_meta = old["metadata"]
        meta = new.setdefault("metadata", {})
        if subresource in ("status", "finalize"):
            new["metadata"] = meta = copy.deepcopy(old_meta)
        for key in ("name", "namespace", "generateName", *SYSTEM_META, "resourceVersion"):
            if key in old_meta:
                meta[key] = copy.deepcopy(old_meta[key])
            else:
                meta.pop(key, None)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    old_meta["name"],
                    [
                        Cause(
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being deleted",
                            "metadata.finalizers",
                        )
                    ],
                )
        self._prepare(rt, old, new, opts)
        meta = new["metadata"]  # schema defaulting may have rebuilt the dict
        normalize(new)
        if json_equal(content(new), content(old)):
            return old  # a no-op write: same resourceVersion, no event
        if rt.tracks_generation and spec_changed(rt, old, new):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if entries is None:
            entries = fieldmanager.record_update(
                fieldmanager.parse_entries(old_meta),
                manager=opts.manager,
                api_version=rt.group_version,
                subresource=subresource,
                old=old,
                new=new,
                now=self.now(),
            )
        meta["managedFields"] = fieldmanager.render_entries(entries)
        normalize(new)
        strategy = self.strategies.get(rt.store_key)
        deleting = bool(meta.get("deletionTimestamp"))
        held = bool(meta.get("finalizers")) or (
            strategy is not None and strategy.blocks_deletion(new)
        )
        return self._commit(rt, old, new, dry_run=opts.dry_run, deleted=deleting and not held)

    def _commit(
        self, rt: ResourceType, old: Obj | None, new: Obj, *, dry_run: bool, deleted: bool = False
    ) -> Obj:
        meta = new["metadata"]
        if dry_run:  # nothing is written, so the version does not move
            if old is not None:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            else:
                meta.pop("resourceVersion", None)
            return new
        rv = self._rv + 1
        meta["resourceVersion"] = str(rv)
        self._rv = rv
        key: ObjKey = (meta.get("namespace"), meta["name"])
        bucket = self._objects.setdefault(rt.store_key, {})
        if old is not None:
            self._unindex(rt.store_key, key, old)
        if deleted:
            bucket.pop(key, None)
            kind = "DELETED"
        else:
            bucket[key] = new
            self._index(rt.store_key, key, new)
            kind = "ADDED" if old is None else "MODIFIED"
        self._history.append(WatchEvent(rv, kind, rt.store_key, new, old))
        strategy = self.strategies.get(rt.store_key)
        if strategy is not None:
            strategy.committed(self, rt, new, deleted)
        for listener in list(self._listeners):
            listener()
        return new

    def _index(self, store_key: StoreKey, key: ObjKey, obj: Obj) -> None:
        meta = obj["metadata"]
        self._uids[meta["uid"]] = (store_key, key)
        for ref in meta.get("ownerReferences") or []:
            self._dependents.setdefault(str(ref.get("uid")), set()).add((store_key, key))

    def _unindex(self, store_key: StoreKey, key: ObjKey, obj: Obj) -> None:
        meta = obj["metadata"]
        self._uids.pop(meta["uid"], None)
        for ref in meta.get("ownerReferences") or []:
            deps = self._dependents.get(str(ref.get("uid")))
            if deps is not None:
                deps.discard((store_key, key))
                if not deps:
                    del self._dependents[str(ref.get("uid"))]
