"""The async API: ``async with EmulatorServer() as server`` plus kmock's reaction DSL on top."""

from __future__ import annotations

import aiohttp
import kmock
import pytest
from upir_e2e.emulator import EmulatorServer

pytestmark = pytest.mark.integration


async def test_async_server_serves_the_api() -> None:
    async with EmulatorServer() as server, aiohttp.ClientSession() as http:
        assert server.kubeconfig_path.is_file()
        async with http.get(f"{server.url}/api/v1/namespaces") as response:
            listing = await response.json()
        assert response.status == 200
        assert listing["kind"] == "NamespaceList" and listing["apiVersion"] == "v1"
        assert {"default", "kube-system"} <= {n["metadata"]["name"] for n in listing["items"]}
        async with http.get(f"{server.url}/api") as response:
            assert (await response.json())["versions"] == ["v1"]
        async with http.get(f"{server.url}/api/v1") as response:
            assert (await response.json())["groupVersion"] == "v1"


async def test_kmock_reactions_take_precedence_for_fault_injection() -> None:
    async with EmulatorServer() as server, aiohttp.ClientSession() as http:
        emulator = server.emulator
        url = f"{server.url}/api/v1/namespaces/default/configmaps"
        # One injected failure for creations of ConfigMaps, then the real API again.
        (
            emulator[kmock.action.CREATE, kmock.resource("v1/configmaps")][:1]
            << 503
            << {"kind": "Status", "code": 503}
        )
        async with http.post(url, json={"metadata": {"name": "x"}}) as response:
            assert response.status == 503
        async with http.post(url, json={"metadata": {"name": "x"}}) as response:
            assert response.status == 201
        recorded = [r for r in emulator if r.action == kmock.action.CREATE]
        assert len(recorded) == 2  # kmock's request log sees both
