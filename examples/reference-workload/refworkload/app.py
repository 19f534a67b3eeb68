"""The HTTP face of the workload (aiohttp): ``/work``, ``/metrics``, ``/healthz``, ``/params``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from refworkload.params import Params
from refworkload.service import DownstreamModel, ParamWatcher, Workload

log = logging.getLogger("refworkload")

WORKLOAD_KEY = web.AppKey("workload", Workload)


async def _work(request: web.Request) -> web.Response:
    outcome = await request.app[WORKLOAD_KEY].handle()
    return web.Response(status=outcome.value, text=outcome.reason)


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[WORKLOAD_KEY].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _params(request: web.Request) -> web.Response:
    return web.json_response(request.app[WORKLOAD_KEY].params.as_dict())


def build_app(workload: Workload) -> web.Application:
    """An aiohttp application serving ``workload`` (workers must be started separately)."""
    app = web.Application()
    app[WORKLOAD_KEY] = workload
    app.router.add_route("GET", "/work", _work)
    app.router.add_route("POST", "/work", _work)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/params", _params)
    return app


@dataclass(slots=True)
class RunningServer:
    """A started workload server; ``port`` is the bound port (useful with port 0)."""

    workload: Workload
    watcher: ParamWatcher | None
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def aclose(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        await self.runner.cleanup()
        await self.workload.stop()


async def start_server(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    params_path: Path | None = None,
    params: Params | None = None,
    model: DownstreamModel | None = None,
    poll_s: float = 0.5,
) -> RunningServer:
    """Start the workload and its HTTP server on the running loop.

    With ``params_path`` the parameters come from that source (``params`` is the
    starting point the source is merged into) and are reloaded every ``poll_s``
    seconds.
    """
    workload = Workload(params or Params(), model or DownstreamModel())
    watcher: ParamWatcher | None = None
    if params_path is not None:
        watcher = ParamWatcher(params_path, workload, poll_s=poll_s)
        watcher.check()
    await workload.start()
    if watcher is not None:
        watcher.start()
    # Close idle keep-alive connections promptly so a stopping server never waits.
    runner = web.AppRunner(build_app(workload), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound_port = port
    for address in runner.addresses:
        if isinstance(address, tuple):
            bound_port = int(address[1])
            break
    log.info("refworkload serving on http://%s:%d", host, bound_port)
    return RunningServer(workload, watcher, runner, host, bound_port)
