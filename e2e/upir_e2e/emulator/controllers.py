"""The control-plane behaviour a bare API server relies on: namespaces, CRDs, GC.

* Namespaces: created Active with the ``kubernetes`` finalizer in
  ``spec.finalizers`` and the ``kubernetes.io/metadata.name`` label; deleting
  one marks it Terminating, deletes everything in it (respecting the objects'
  own finalizers) and removes it once it is empty.
* CustomResourceDefinitions: validated, given the
  ``customresourcecleanup.apiextensions.k8s.io`` finalizer and an Established
  status, and their resources registered for discovery at once; deleting one
  deletes all its custom resources first.
* Garbage collection by ``metadata.ownerReferences``, asynchronously like the
  real garbage collector: background (dependents are deleted once all their
  owners are gone; references to gone owners are dropped while other owners
  remain), foreground (``foregroundDeletion``: dependents first, then the
  owner) and orphan (``orphan``: references removed, dependents kept).

The controllers act on the store's watch history, so they see exactly the
changes a client would.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
from typing import Any

from .errors import ApiError, Cause
from .registry import ResourceType, crd_problems, crd_types
from .store import Obj, Store, StoreKey, WatchEvent, WriteOptions

log = logging.getLogger(__name__)

NAMESPACES: StoreKey = ("", "namespaces")
CRDS: StoreKey = ("apiextensions.k8s.io", "customresourcedefinitions")
SECRETS: StoreKey = ("", "secrets")
CONFIGMAPS: StoreKey = ("", "configmaps")
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
GC_MANAGER = "generic-garbage-collector"
NS_MANAGER = "namespace-controller"
CRD_MANAGER = "apiextensions-apiserver"


class DataStrategy:
    """ConfigMaps and Secrets: ``immutable`` data, and a Secret's write-only ``stringData``."""

    def prepare(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> None:
        if rt.store_key != SECRETS:
            return
        new.setdefault("type", "Opaque")
        string_data = new.pop("stringData", None)
        if isinstance(string_data, dict):  # folded into data, base64-encoded, like the real server
            data = new.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()

    def validate(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> list[Cause]:
        if old is None or not old.get("immutable"):
            return []
        causes = []
        for key in ("data", "binaryData"):
            if old.get(key) != new.get(key):
                causes.append(
                    Cause(
                        "FieldValueForbidden",
                        "Forbidden: field is immutable when `immutable` is set",
                        key,
                    )
                )
        if not new.get("immutable"):
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set",
                    "immutable",
                )
            )
        return causes

    def blocks_deletion(self, obj: Obj) -> bool:
        return False

    def on_delete(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        pass

    def committed(self, store: Store, rt: ResourceType, obj: Obj, deleted: bool) -> None:
        pass


class NamespaceStrategy:
    def prepare(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> None:
        meta = new["metadata"]
        labels = meta.setdefault("labels", {})
        if isinstance(labels, dict) and isinstance(meta.get("name"), str):
            labels["kubernetes.io/metadata.name"] = meta["name"]
        if old is None:
            new.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            new["status"] = {"phase": "Active"}

    def validate(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> list[Cause]:
        return []

    def blocks_deletion(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def on_delete(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        obj["status"] = {"phase": "Terminating"}

    def committed(self, store: Store, rt: ResourceType, obj: Obj, deleted: bool) -> None:
        pass


class CrdStrategy:
    def prepare(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> None:
        meta = new["metadata"]
        if old is None:
            finalizers = meta.setdefault("finalizers", [])
            if CRD_CLEANUP not in finalizers:
                finalizers.append(CRD_CLEANUP)
        spec = new.get("spec")
        if not isinstance(spec, dict) or crd_problems(new):
            return  # validate() reports it
        names = spec["names"]
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
        for version in spec["versions"]:
            version.setdefault("served", True)
        spec.setdefault("conversion", {"strategy": "None"})
        old_status = (old or {}).get("status") or {}
        stored = list(old_status.get("storedVersions") or [])
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        if storage not in stored:
            stored.append(storage)
        now = store.now()
        previous = {c.get("type"): c for c in old_status.get("conditions") or []}

        def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
            since = previous.get(kind, {}).get("lastTransitionTime") or now
            return {
                "type": kind,
                "status": "True",
                "lastTransitionTime": since,
                "reason": reason,
                "message": message,
            }

        conditions = [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition(
                "Established", "InitialNamesAccepted", "the initial names have been accepted"
            ),
        ]
        if meta.get("deletionTimestamp"):
            conditions.append(
                condition(
                    "Terminating",
                    "InstanceDeletionInProgress",
                    "CustomResource deletion is in progress",
                )
            )
        new["status"] = {
            "conditions": conditions,
            "acceptedNames": copy.deepcopy(names),
            "storedVersions": stored,
        }

    def validate(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> list[Cause]:
        causes = crd_problems(new)
        if causes:
            return causes
        spec = new["spec"]
        if old is not None:
            old_spec = old.get("spec") or {}
            for key in ("group",):
                if old_spec.get(key) != spec.get(key):
                    causes.append(
                        Cause(
                            "FieldValueInvalid", "Invalid value: field is immutable", f"spec.{key}"
                        )
                    )
        for rt_other in store.registry.all():
            if (
                rt_other.store_key == (spec["group"], spec["names"]["plural"])
                and rt_other.crd_name != new["metadata"]["name"]
            ):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f'Invalid value: "{spec["names"]["plural"]}": the resource is already served',
                        "spec.names.plural",
                    )
                )
                break
        return causes

    def blocks_deletion(self, obj: Obj) -> bool:
        return False

    def on_delete(self, store: Store, rt: ResourceType, obj: Obj) -> None:
        self.prepare(store, rt, obj, obj)

    def committed(self, store: Store, rt: ResourceType, obj: Obj, deleted: bool) -> None:
        name = obj["metadata"]["name"]
        store.registry.unregister_crd(name)
        if not deleted:
            store.registry.register(crd_types(obj))


class Controllers:
    """Namespace, CRD and garbage-collection controllers driven by store events."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cursor = store.resource_version
        self._wake = asyncio.Event()

    def _rt(self, store_key: StoreKey) -> ResourceType | None:
        return self.store.registry.preferred(*store_key)

    def process_pending(self) -> int:
        """Handle every event since the last call; returns how many events were seen."""
        try:
            events: list[WatchEvent] | None = self.store.events_since(self._cursor)
        except ApiError:
            events = None  # fell behind the history: look at everything
        self._cursor = self.store.resource_version
        if events is None:
            self.resync()
            return 0
        for event in events:
            try:
                self._handle(event)
            except ApiError as exc:  # e.g. a race with a client's own delete: harmless
                log.debug("controller action skipped: %s", exc.message)
        return len(events)

    def resync(self) -> None:
        for store_key in self.store.store_keys():
            for obj in list(self.store.objects(store_key)):
                self._reconcile(store_key, obj)

    async def run(self) -> None:
        """Act on store changes until cancelled."""
        unsubscribe = self.store.subscribe(self._wake.set)
        try:
            self.resync()
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.process_pending():
                    await asyncio.sleep(0)  # let clients run between cascades
        finally:
            unsubscribe()

    # ------------------------------------------------------------- handlers

    def _handle(self, event: WatchEvent) -> None:
        obj = event.obj
        meta = obj["metadata"]
        if event.type == "DELETED":
            for store_key, dependent in self.store.dependents(meta["uid"]):
                self._reconcile_dependent(store_key, dependent)
            for ref in meta.get("ownerReferences") or []:
                owner_key = self.store.store_key_of_uid(str(ref.get("uid")))
                owner = self.store.by_uid(str(ref.get("uid")))
                if owner is not None and owner_key is not None:
                    self._reconcile_owner(owner_key, owner)
            namespace = meta.get("namespace")
            if namespace:
                ns = self.store.find(NAMESPACES, None, namespace)
                if ns is not None and ns["metadata"].get("deletionTimestamp"):
                    self._reconcile_namespace(ns)
            rt = self._rt(event.store_key)
            if rt is not None and rt.crd_name:
                crd = self.store.find(CRDS, None, rt.crd_name)
                if crd is not None and crd["metadata"].get("deletionTimestamp"):
                    self._reconcile_crd(crd)
            return
        current = self.store.find(event.store_key, meta.get("namespace"), meta["name"])
        if (
            current is not None
            and current["metadata"]["resourceVersion"] == meta["resourceVersion"]
        ):
            self._reconcile(event.store_key, current)

    def _reconcile(self, store_key: StoreKey, obj: Obj) -> None:
        meta = obj["metadata"]
        if meta.get("ownerReferences"):
            self._reconcile_dependent(store_key, obj)
        if meta.get("deletionTimestamp"):
            self._reconcile_owner(store_key, obj)
            if store_key == NAMESPACES:
                self._reconcile_namespace(obj)
            if store_key == CRDS:
                self._reconcile_crd(obj)

    def _reconcile_dependent(self, store_key: StoreKey, obj: Obj) -> None:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        alive = [r for r in refs if self.store.by_uid(str(r.get("uid"))) is not None]
        rt = self._rt(store_key)
        if rt is None or not refs:
            return
        if not alive:
            if not meta.get("deletionTimestamp"):
                self.store.delete(rt, meta.get("namespace"), meta["name"], propagation="Background")
            return
        if len(alive) < len(refs):
            self._rewrite(
                rt, obj, lambda new: new["metadata"].__setitem__("ownerReferences", alive)
            )
        owners_deleting = [
            owner
            for ref in alive
            if (owner := self.store.by_uid(str(ref.get("uid")))) is not None
            and owner["metadata"].get("deletionTimestamp")
            and "foregroundDeletion" in (owner["metadata"].get("finalizers") or [])
        ]
        if owners_deleting and not meta.get("deletionTimestamp"):
            self.store.delete(rt, meta.get("namespace"), meta["name"], propagation="Background")

    def _reconcile_owner(self, store_key: StoreKey, owner: Obj) -> None:
        meta = owner["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        rt = self._rt(store_key)
        if rt is None or not meta.get("deletionTimestamp"):
            return
        uid = meta["uid"]
        if "orphan" in finalizers:
            for dep_key, dependent in self.store.dependents(uid):
                dep_rt = self._rt(dep_key)
                if dep_rt is None:
                    continue
                kept = [
                    r
                    for r in dependent["metadata"].get("ownerReferences") or []
                    if r.get("uid") != uid
                ]
                self._rewrite(
                    dep_rt,
                    dependent,
                    lambda new, kept=kept: new["metadata"].__setitem__("ownerReferences", kept),
                )
            self._drop_finalizer(rt, owner, "orphan")
        elif "foregroundDeletion" in finalizers:
            dependents = self.store.dependents(uid)
            for dep_key, dependent in dependents:
                dep_rt = self._rt(dep_key)
                if dep_rt is not None and not dependent["metadata"].get("deletionTimestamp"):
                    self.store.delete(
                        dep_rt,
                        dependent["metadata"].get("namespace"),
                        dependent["metadata"]["name"],
                        propagation="Background",
                    )
            if not self.store.dependents(uid):
                self._drop_finalizer(rt, owner, "foregroundDeletion")

    def _reconcile_namespace(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        remaining = 0
        for store_key in self.store.store_keys():
            rt = self._rt(store_key)
            if rt is None or not rt.namespaced:
                continue
            for obj in list(self.store.objects(store_key, name)):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.delete(rt, name, obj["metadata"]["name"])
        if remaining == 0 and (ns.get("spec") or {}).get("finalizers"):
            rt = self._rt(NAMESPACES)
            assert rt is not None  # namespaces are always served
            body: dict[str, Any] = {"spec": {"finalizers": []}}
            self.store.update(
                rt, None, name, body, WriteOptions(NS_MANAGER), subresource="finalize"
            )

    def _reconcile_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        store_key = (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        rt = self._rt(store_key)
        remaining = list(self.store.objects(store_key)) if rt is not None else []
        for obj in remaining:
            if rt is not None and not obj["metadata"].get("deletionTimestamp"):
                self.store.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if not remaining:
            crd_rt = self._rt(CRDS)
            assert crd_rt is not None
            self._drop_finalizer(crd_rt, crd, CRD_CLEANUP)

    # -------------------------------------------------------------- helpers

    def _drop_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        def drop(new: Obj) -> None:
            new["metadata"]["finalizers"] = [
                f for f in new["metadata"].get("finalizers") or [] if f != finalizer
            ]

        self._rewrite(rt, obj, drop)

    def _rewrite(self, rt: ResourceType, obj: Obj, change: Any) -> None:
        new = copy.deepcopy(obj)
        change(new)
        manager = CRD_MANAGER if rt.store_key == CRDS else GC_MANAGER
        namespace, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
        self.store.update(rt, namespace, name, new, WriteOptions(manager))
