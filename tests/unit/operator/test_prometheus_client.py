"""The operator's Prometheus client (issue 23) against a local HTTP server that
answers as Prometheus's API does: one session for every query, credentials and
extra headers on every request, and each failure told apart (outage, refused
credentials, PromQL error, ambiguous result, nothing matched)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from upir_operator.decisions import hold_reason
from upir_operator.prometheus import (
    PrometheusClient,
    PrometheusUnauthorized,
    PrometheusUnavailable,
)
from upir_operator.settings import PrometheusAccess, load_prometheus_access

from upir.errors import SettingsError
from upir.tuning.settings import HoldSettings

Seen = list[dict[str, str]]


def answer(query: str) -> tuple[int, dict[str, Any]]:
    if query == "sum(":
        return 400, {"status": "error", "errorType": "bad_data", "error": "unexpected end"}
    if query == "two":
        series = [{"metric": {"i": str(i)}, "value": [1.0, "1"]} for i in range(2)]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": series}}
    if query == "none":
        return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}
    return 200, {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1e9, query]}]},
    }


async def serve(seen: Seen, token: str | None) -> web.AppRunner:
    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"status": "error", "error": "unauthorized"}, status=401)
        status, body = answer(request.query["query"])
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/api/v1/query", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def url(runner: web.AppRunner) -> str:
    (site,) = runner.sites
    server = site._server  # type: ignore[attr-defined]
    port = server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}"


Body = Callable[[PrometheusClient, str, Seen], Awaitable[None]]


def run(body: Body, access: PrometheusAccess, token: str | None = None) -> None:
    async def main() -> None:
        seen: Seen = []
        runner = await serve(seen, token)
        client = PrometheusClient(access)
        try:
            await body(client, url(runner), seen)
        finally:
            await client.close()
            await runner.cleanup()

    asyncio.run(main())


def test_bearer_token_headers_and_one_session(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0k3n\n")
    access = PrometheusAccess(bearer_token_file=token, headers=(("X-Scope-OrgID", "team-a"),))

    async def body(client: PrometheusClient, base: str, seen: Seen) -> None:
        for _ in range(3):
            got = await client.query_all(base, {"a": "12.5", "b": "3"}, timeout_s=5)
            assert got["a"].value == 12.5 and got["b"].value == 3.0
        assert client.sessions_opened == 1
        assert len(seen) == 6
        assert {h["Authorization"] for h in seen} == {"Bearer t0k3n"}
        assert {h["X-Scope-OrgID"] for h in seen} == {"team-a"}
        token.write_text("rotated")  # read at every query: rotation needs no restart
        with pytest.raises(PrometheusUnauthorized, match="HTTP 401"):
            await client.query_all(base, {"a": "1"}, timeout_s=5)

    run(body, access, token="t0k3n")


def test_failures_are_told_apart(tmp_path: Path) -> None:
    async def body(client: PrometheusClient, base: str, seen: Seen) -> None:
        got = await client.query_all(
            base, {"bad": "sum(", "two": "two", "none": "none"}, timeout_s=5
        )
        assert got["bad"].error == "bad_data: unexpected end"
        assert got["two"].error and "2 series" in got["two"].error
        assert got["none"].value is None and got["none"].error is None
        policy = HoldSettings()
        reason = hold_reason(got, ("bad", "none"), 1e9, policy)
        assert reason == "QueryFailed: bad: bad_data: unexpected end"
        assert hold_reason(got, ("none",), 1e9, policy) == "MetricMissing: none returned no sample"
        await client.close()
        with pytest.raises(PrometheusUnavailable):
            await client.query_all("http://127.0.0.1:9", {"a": "1"}, timeout_s=2)

    run(body, PrometheusAccess())


def test_access_settings(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    access = load_prometheus_access(
        {
            "UPIR_PROMETHEUS_USERNAME": "upir",
            "UPIR_PROMETHEUS_PASSWORD_FILE": str(pw),
            "UPIR_PROMETHEUS_HEADERS": "X-Scope-OrgID=team-a, X-Other = b",
        }
    )
    assert access.headers == (("X-Scope-OrgID", "team-a"), ("X-Other", "b"))
    headers = PrometheusClient(access).headers()
    assert headers["Authorization"] == "Basic dXBpcjpzM2NyZXQ="  # upir:s3cret
    for env, needle in (
        ({"UPIR_PROMETHEUS_USERNAME": "u"}, "go together"),
        ({"UPIR_PROMETHEUS_CA_FILE": "/nonexistent"}, "UPIR_PROMETHEUS_CA_FILE"),
        ({"UPIR_PROMETHEUS_HEADERS": "no-equals"}, "UPIR_PROMETHEUS_HEADERS"),
        ({"UPIR_PROMETHEUS_HEADERS": "bad name=x"}, "UPIR_PROMETHEUS_HEADERS"),
    ):
        with pytest.raises(SettingsError, match=needle):
            load_prometheus_access(env)
