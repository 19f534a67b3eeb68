"""Watch semantics on the store (no HTTP): initial events, replay, bookmarks, 410, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from upir_e2e.emulator import KubernetesApiEmulator, ResourceType, WriteOptions
from upir_e2e.emulator.errors import ApiError
from upir_e2e.emulator.selectors import (
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
)
from upir_e2e.emulator.watch import INITIAL_EVENTS_END, Watch, WatchParams

OPTS = WriteOptions("test")


def configmaps(emu: KubernetesApiEmulator) -> ResourceType:
    rt = emu.registry.get("", "v1", "configmaps")
    assert rt is not None
    return rt


def watch(emu: KubernetesApiEmulator, labels: str = "", **params: Any) -> Watch:
    rt = configmaps(emu)
    fields = parse_field_selector("", selectable_fields("", "configmaps"))
    return Watch(
        emu.store,
        rt,
        "default",
        parse_label_selector(labels),
        fields,
        WatchParams(**params),
        bookmark_interval=0.2,
    )


async def collect(w: Watch, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in w.events():
            out.append(event)
            if len(out) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return out


async def test_initial_events_then_bookmark_then_live() -> None:
    emu = KubernetesApiEmulator()
    emu.store.create(configmaps(emu), "default", {"metadata": {"name": "old"}}, OPTS)
    w = watch(
        emu, allow_bookmarks=True, send_initial_events=True, resource_version_match="NotOlderThan"
    )
    task = asyncio.ensure_future(collect(w, 3))
    await asyncio.sleep(0.05)
    emu.store.create(configmaps(emu), "default", {"metadata": {"name": "new"}}, OPTS)
    events = await task
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "old"),
        ("BOOKMARK", None),
        ("ADDED", "new"),
    ]
    assert events[1]["object"]["metadata"]["annotations"] == {INITIAL_EVENTS_END: "true"}
    assert events[2]["object"]["kind"] == "ConfigMap" and events[2]["object"]["apiVersion"] == "v1"


async def test_replay_from_version_and_periodic_bookmarks() -> None:
    emu = KubernetesApiEmulator()
    since = emu.store.resource_version
    emu.store.create(configmaps(emu), "default", {"metadata": {"name": "a"}}, OPTS)
    emu.store.create(configmaps(emu), "kube-system", {"metadata": {"name": "elsewhere"}}, OPTS)
    events = await collect(watch(emu, resource_version=str(since), allow_bookmarks=True), 2)
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]  # other namespaces filtered out
    assert events[1]["object"]["metadata"]["resourceVersion"] == str(emu.store.resource_version)


async def test_compacted_version_is_an_error_event() -> None:
    emu = KubernetesApiEmulator(history_size=2)
    since = emu.store.resource_version
    for index in range(4):
        emu.store.create(configmaps(emu), "default", {"metadata": {"name": f"c{index}"}}, OPTS)
    (event,) = await collect(watch(emu, resource_version=str(since)), 1)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


async def test_timeout_ends_the_stream() -> None:
    emu = KubernetesApiEmulator()
    w = watch(emu, resource_version=str(emu.store.resource_version), timeout_seconds=0.3)
    started = asyncio.get_running_loop().time()
    assert [e async for e in w.events()] == []
    assert 0.25 < asyncio.get_running_loop().time() - started < 2


def test_initial_events_need_bookmarks_and_not_older_than() -> None:
    emu = KubernetesApiEmulator()
    with pytest.raises(ApiError) as info:
        watch(emu, send_initial_events=True, resource_version_match="NotOlderThan")
    assert info.value.code == 422
    with pytest.raises(ApiError):
        watch(emu, resource_version_match="Exact")
