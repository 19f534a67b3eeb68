"""The store's vocabulary: stored objects, events, write options, type strategies.

Also the pure rules of one write that do not need the store itself: the
status/finalize subresource split, metadata normalisation, no-op detection
and the generation rule.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import errors
from .errors import Cause
from .patching import json_equal
from .registry import ResourceType

if TYPE_CHECKING:
    from .store import Store

StoreKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str | None, str]  # (namespace, name)
Obj = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

SYSTEM_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
OMIT_EMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WriteOptions:
    """How one write request asked to be handled (query parameters of the request)."""

    manager: str
    dry_run: bool = False
    force: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WatchEvent:
    """One committed change. ``obj``/``prev`` are never mutated after commit."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    store_key: StoreKey
    obj: Obj
    prev: Obj | None


class Strategy(Protocol):
    """Type-specific behaviour (namespaces, CRDs) plugged into the write path."""

    def prepare(self, store: Store, rt: ResourceType, old: Obj | None, new: Obj) -> None: ...

    def validate(
        self, store: Store, rt: ResourceType, old: Obj | None, new: Obj
    ) -> list[Cause]: ...

    def blocks_deletion(self, obj: Obj) -> bool: ...

    def on_delete(self, store: Store, rt: ResourceType, obj: Obj) -> None: ...

    def committed(self, store: Store, rt: ResourceType, obj: Obj, deleted: bool) -> None: ...


def split_subresource(rt: ResourceType, old: Obj, body: Obj, subresource: str) -> Obj:
    """Status writes change only status; main writes keep the status (with the subresource on)."""
    if subresource == "status":
        new = copy.deepcopy(old)
        if "status" in body:
            new["status"] = copy.deepcopy(body["status"])
        else:
            new.pop("status", None)
        return new
    if subresource == "finalize" and rt.store_key == ("", "namespaces"):
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["finalizers"] = list(
            (body.get("spec") or {}).get("finalizers") or []
        )
        return new
    if subresource:
        raise errors.not_found(rt.plural, rt.group, old["metadata"]["name"])
    new = copy.deepcopy(body)
    if rt.store_key == ("", "namespaces"):  # spec.finalizers change only through /finalize
        new.setdefault("spec", {})["finalizers"] = list(
            (old.get("spec") or {}).get("finalizers") or []
        )
    if rt.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    return new


def normalize(obj: Obj) -> None:
    """Drop empty metadata lists/maps as the real server's JSON (omitempty) does."""
    meta = obj["metadata"]
    for key in OMIT_EMPTY_META:
        if key in meta and not meta[key]:
            del meta[key]


def content(obj: Obj) -> Obj:
    """The object without the fields that every write touches (for no-op detection)."""
    meta = {
        k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")
    }
    return {**obj, "metadata": meta}


def spec_changed(rt: ResourceType, old: Obj, new: Obj) -> bool:
    """Generation moves on changes outside metadata (and outside status with the subresource on)."""
    skip = {"metadata", "status"} if rt.has_status else {"metadata"}
    return not json_equal(
        {k: v for k, v in old.items() if k not in skip},
        {k: v for k, v in new.items() if k not in skip},
    )


def check_kind(rt: ResourceType, body: Mapping[str, Any]) -> None:
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise errors.bad_request(
            f"the kind of the object ({kind}) does not match the resource ({rt.kind} of {rt.group_version})"
        )


def check_identity(rt: ResourceType, old: Obj, body: Mapping[str, Any]) -> None:
    meta = body.get("metadata") or {}
    name = old["metadata"]["name"]
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    if (
        rt.namespaced
        and meta.get("namespace")
        and meta["namespace"] != old["metadata"]["namespace"]
    ):
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
        raise errors.conflict(
            rt.plural,
            rt.group,
            name,
            f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {old['metadata']['uid']}",
        )


def encode_continue(last: Obj) -> str:
    """A list's continue token: the position of the last object returned."""
    meta = last["metadata"]
    raw = json.dumps({"ns": meta.get("namespace") or "", "name": meta["name"]})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_continue(token: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(decoded["ns"]), str(decoded["name"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"invalid continue token: {exc}") from exc
