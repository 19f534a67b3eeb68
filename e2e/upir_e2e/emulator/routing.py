"""URL parsing, discovery documents and response helpers of the emulated API server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import yaml

from . import errors
from .registry import Registry

SERVER_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0+upir-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class ApiPath:
    """A parsed request path. ``kind``: root|version|health|api|apis|group|resources|resource|unknown."""

    kind: str
    group: str = ""
    version: str = ""
    namespace: str | None = None
    plural: str = ""
    name: str | None = None
    subresource: str = ""
    watch_prefix: bool = False


def parse_path(path: str) -> ApiPath:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return ApiPath("root")
    if parts == ["version"]:
        return ApiPath("version")
    if parts[0] in ("healthz", "livez", "readyz"):
        return ApiPath("health")
    if parts[0] == "api":
        if len(parts) == 1:
            return ApiPath("api")
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            return ApiPath("apis")
        if len(parts) == 2:
            return ApiPath("group", group=parts[1])
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return ApiPath("unknown")
    if not rest:
        return ApiPath("resources", group=group, version=version)
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return ApiPath("unknown")
    return ApiPath(
        "resource",
        group=group,
        version=version,
        namespace=namespace,
        plural=rest[0],
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else "",
        watch_prefix=watch_prefix,
    )


def json_response(
    body: Any, status: int = 200, warnings: list[str] | None = None
) -> aiohttp.web.Response:
    response = aiohttp.web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/json"
    )
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def decode_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    try:
        if "yaml" in content_type:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the body of the request could not be decoded: {exc}") from exc


def discovery(registry: Registry, path: ApiPath, server_address: str) -> aiohttp.web.StreamResponse:
    """The discovery documents: /, /version, health checks, /api, /apis and their children."""
    if path.kind == "root":
        paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
        for group, versions in registry.groups().items():
            paths.add(f"/apis/{group}")
            paths.update(f"/apis/{group}/{v}" for v in versions)
        return json_response({"paths": sorted(paths)})
    if path.kind == "version":
        return json_response(SERVER_VERSION)
    if path.kind == "health":
        return aiohttp.web.Response(text="ok")
    if path.kind == "api":
        return json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
                ],
            }
        )
    if path.kind == "apis":
        return json_response(registry.api_group_list())
    if path.kind == "group":
        api_group = registry.api_group(path.group)
        if api_group is None:
            raise errors.page_not_found()
        return json_response({"kind": "APIGroup", "apiVersion": "v1", **api_group})
    if path.kind == "resources":
        listing = registry.resource_list(path.group, path.version)
        if listing is None or (path.group == "" and path.version != "v1"):
            raise errors.page_not_found()
        return json_response(listing)
    raise errors.page_not_found()
