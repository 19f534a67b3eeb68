"""Watch streams with the API server's semantics.

* no ``resourceVersion`` (or ``"0"``): synthetic ADDED events for the current
  objects, then live changes;
* ``resourceVersion=N``: replay of the retained history after N, then live
  changes; an ERROR event with a 410 Status when N was compacted away;
* ``sendInitialEvents=true`` + ``resourceVersionMatch=NotOlderThan`` (needs
  ``allowWatchBookmarks=true``): ADDED for the current objects, then a
  BOOKMARK annotated ``k8s.io/initial-events-end: "true"``;
* ``allowWatchBookmarks=true``: periodic BOOKMARK events;
* selectors apply to the old and the new state of each change, so an object
  that stops matching arrives as DELETED and one that starts as ADDED;
* ``timeoutSeconds`` ends the stream (a real server defaults to 30-60 min).
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError, Cause
from .registry import ResourceType
from .selectors import FieldSelector, LabelSelector, field_getter, selectable_fields
from .store import Obj, Store, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class WatchParams:
    resource_version: str | None = None
    allow_bookmarks: bool = False
    send_initial_events: bool | None = None
    resource_version_match: str | None = None
    timeout_seconds: float | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> WatchParams:
        def flag(name: str) -> bool | None:
            raw = query.get(name)
            return None if raw is None else raw.lower() in ("true", "1")

        timeout = query.get("timeoutSeconds")
        try:
            seconds = float(timeout) if timeout else None
        except ValueError as exc:
            raise errors.bad_request(f"invalid timeoutSeconds {timeout!r}") from exc
        return cls(
            resource_version=query.get("resourceVersion") or None,
            allow_bookmarks=bool(flag("allowWatchBookmarks")),
            send_initial_events=flag("sendInitialEvents"),
            resource_version_match=query.get("resourceVersionMatch") or None,
            timeout_seconds=seconds,
        )

    def validate(self) -> None:
        causes = []
        if self.send_initial_events is not None:
            if self.resource_version_match != "NotOlderThan":
                causes.append(
                    Cause(
                        "FieldValueForbidden",
                        "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                        "sendInitialEvents",
                    )
                )
            if not self.allow_bookmarks:
                causes.append(
                    Cause(
                        "FieldValueForbidden",
                        "Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                        "allowWatchBookmarks",
                    )
                )
        elif self.resource_version_match:
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    "resourceVersionMatch",
                )
            )
        if causes:
            raise errors.invalid("ListOptions", "meta.k8s.io", "", causes)


def render(rt: ResourceType, obj: Obj) -> Obj:
    """An object as served at ``rt``'s version (apiVersion and kind first)."""
    out: Obj = {"apiVersion": rt.group_version, "kind": rt.kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return out


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {
        "type": "BOOKMARK",
        "object": {"kind": rt.kind, "apiVersion": rt.group_version, "metadata": meta},
    }


class Watch:
    """One watch request's event source (see module docstring)."""

    def __init__(
        self,
        store: Store,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        params: WatchParams,
        *,
        bookmark_interval: float = 15.0,
        default_timeout: float = 1800.0,
    ) -> None:
        params.validate()
        self.store = store
        self.rt = rt
        self.namespace = namespace if rt.namespaced else None
        self.labels = labels
        self.fields = fields
        self.params = params
        self.bookmark_interval = bookmark_interval
        timeout = params.timeout_seconds
        self.timeout = (
            timeout
            if timeout is not None and timeout > 0
            else default_timeout * (1 + random.random())
        )
        self._first: list[dict[str, Any]] | None = None  # set by start()
        self._cursor: int | None = None
        self._getter: Callable[[Obj], dict[str, str]] = field_getter(
            selectable_fields(rt.group, rt.plural, rt.selectable_fields)
        )

    def _matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(self._getter(obj))

    def _translate(self, event: WatchEvent) -> dict[str, Any] | None:
        if event.store_key != self.rt.store_key:
            return None
        now_ok = self._matches(event.obj)
        if event.type == "ADDED":
            return {"type": "ADDED", "object": render(self.rt, event.obj)} if now_ok else None
        if event.type == "DELETED":
            return {"type": "DELETED", "object": render(self.rt, event.obj)} if now_ok else None
        was_ok = self._matches(event.prev)
        if now_ok:
            return {"type": "MODIFIED" if was_ok else "ADDED", "object": render(self.rt, event.obj)}
        if was_ok and event.prev is not None:
            gone = copy.deepcopy(event.prev)
            gone["metadata"]["resourceVersion"] = str(event.rv)
            return {"type": "DELETED", "object": render(self.rt, gone)}
        return None

    def _current(self) -> list[dict[str, Any]]:
        return [
            {"type": "ADDED", "object": render(self.rt, obj)}
            for obj in self.store.objects(self.rt.store_key, self.namespace)
            if self._matches(obj)
        ]

    def _start(self) -> tuple[list[dict[str, Any]], int]:
        """The events to send first and the resourceVersion to continue after."""
        rv_text = self.params.resource_version
        if self.params.send_initial_events:
            cursor = self.store.resource_version
            return [*self._current(), _bookmark(self.rt, cursor, initial_end=True)], cursor
        if rv_text in (None, "", "0"):
            return self._current(), self.store.resource_version
        try:
            since = int(str(rv_text))
        except ValueError as exc:
            raise errors.bad_request(f'invalid resource version "{rv_text}"') from exc
        if since >= self.store.resource_version:
            return [], since
        replay = [e for e in (self._translate(ev) for ev in self.store.events_since(since)) if e]
        return replay, self.store.resource_version

    def start(self) -> None:
        """Take the starting point now: a bad version fails before any response is sent.

        A compacted version is not a failure of the request but an ERROR event in
        the stream, as on a real server.
        """
        try:
            self._first, self._cursor = self._start()
        except ApiError as exc:
            if exc.code != 410:
                raise
            self._first, self._cursor = [{"type": "ERROR", "object": exc.to_status()}], None

    async def events(self) -> AsyncGenerator[dict[str, Any]]:
        """Events until the timeout; an ERROR event (410) when the history is outrun."""
        deadline = time.monotonic() + self.timeout
        changed = asyncio.Event()
        unsubscribe = self.store.subscribe(changed.set)
        try:
            if self._first is None:
                self.start()
            assert self._first is not None
            for event in self._first:
                yield event
            if self._cursor is None:
                return
            cursor = self._cursor
            last_bookmark = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return
                wait = deadline - now
                if self.params.allow_bookmarks:
                    wait = min(wait, max(0.0, last_bookmark + self.bookmark_interval - now))
                try:
                    await asyncio.wait_for(changed.wait(), timeout=wait)
                except TimeoutError:
                    pass
                changed.clear()
                if cursor < self.store.resource_version:
                    try:
                        pending = self.store.events_since(cursor)
                    except ApiError as exc:
                        yield {"type": "ERROR", "object": exc.to_status()}
                        return
                    for raw in pending:
                        cursor = raw.rv
                        translated = self._translate(raw)
                        if translated is not None:
                            yield translated
                if (
                    self.params.allow_bookmarks
                    and time.monotonic() - last_bookmark >= self.bookmark_interval
                ):
                    yield _bookmark(self.rt, cursor)
                    last_bookmark = time.monotonic()
        finally:
            unsubscribe()
