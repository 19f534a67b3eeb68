"""Reads the configured PromQL from Prometheus's HTTP API (``/api/v1/query``).

One :class:`PrometheusClient` per operator keeps one HTTP session (connection
pool, TLS context) for every UPIR and tick, and adds what real deployments need:
a bearer token or basic auth (Prometheus's ``--web.config.file``, Thanos,
Mimir, managed services), a CA bundle, extra headers such as a tenant id.

Each query must return one scalar (a scalar result, or a vector of exactly one
sample). What goes wrong is told apart, so the tuning loop holds with the right
reason: an outage or 5xx raises :class:`PrometheusUnavailable`; 401/403 raise
:class:`PrometheusUnauthorized`; a PromQL error (400/422 ``bad_data``, ...) or a
result that is not one sample is that query's :class:`Sample` ``error``; only
an empty result is "no sample".
"""

from __future__ import annotations

import asyncio
import base64
import math
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from upir.core import PrometheusSpec
from upir_operator.decisions import Sample
from upir_operator.settings import PrometheusAccess


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or answered with a server error; retry later."""


class PrometheusUnauthorized(PrometheusUnavailable):
    """Prometheus refused the credentials (401) or the access (403)."""


def parse(payload: object) -> Sample:
    """One query's answer; ``error`` says why it is not one usable sample."""
    if not isinstance(payload, dict):
        return Sample(None, error="the answer is not a Prometheus API response")
    if payload.get("status") != "success":
        kind = payload.get("errorType") or "error"
        return Sample(None, error=f"{kind}: {payload.get('error') or 'no message'}"[:500])
    data = payload.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        ts, raw = result
    elif kind == "vector" and isinstance(result, list) and len(result) == 1:
        ts, raw = result[0].get("value", [None, None])
    elif kind == "vector" and isinstance(result, list) and not result:
        return Sample(None)
    elif kind == "vector" and isinstance(result, list):
        return Sample(None, error=f"returned {len(result)} series; aggregate it to one")
    else:
        return Sample(None, error=f"returned a {kind}; need a scalar or one sample")
    try:
        value = float(raw)
        stamp = float(ts)
    except (TypeError, ValueError):
        return Sample(None, error=f"unreadable sample {raw!r}")
    return Sample(value if not math.isnan(value) else math.nan, stamp)


class PrometheusClient:
    """Shared by every tuning loop of one operator; ``close()`` on shutdown."""

    def __init__(self, access: PrometheusAccess | None = None) -> None:
        self.access = access or PrometheusAccess()
        self._session: aiohttp.ClientSession | None = None
        self.sessions_opened = 0
        """How many HTTP sessions this client opened (one, unless it was closed)."""

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.access.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.access.ca_file))

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl(), limit_per_host=8)
            self._session = aiohttp.ClientSession(connector=connector)
            self.sessions_opened += 1
        return self._session

    def headers(self) -> dict[str, str]:
        """Request headers; secret files are read now (rotation needs no restart)."""
        a = self.access
        out = dict(a.headers)
        if a.bearer_token_file is not None:
            token = a.bearer_token_file.read_text(encoding="utf-8").strip()
            out["Authorization"] = f"Bearer {token}"
        elif a.username is not None and a.password_file is not None:
            password = a.password_file.read_text(encoding="utf-8").rstrip("\n")
            raw = f"{a.username}:{password}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        return out

    async def query_all(
        self, url: str, queries: Mapping[str, str], *, timeout_s: float
    ) -> dict[str, Sample]:
        """Every query at the current time."""
        base = url.rstrip("/")
        session = self._session_for_loop()
        try:
            headers = self.headers()
        except OSError as err:
            raise PrometheusUnauthorized(f"reading the credentials: {err}") from None
        timeout = aiohttp.ClientTimeout(total=timeout_s)

        async def one(promql: str) -> Sample:
            async with session.get(
                f"{base}/api/v1/query", params={"query": promql}, headers=headers, timeout=timeout
            ) as resp:
                if resp.status in (401, 403):
                    raise PrometheusUnauthorized(
                        f"{base}: HTTP {resp.status}: check the operator's Prometheus "
                        "credentials (UPIR_PROMETHEUS_*)"
                    )
                if resp.status >= 500 or resp.status == 429:
                    raise PrometheusUnavailable(f"{base}: HTTP {resp.status}")
                try:
                    payload: Any = await resp.json(content_type=None)
                except ValueError:
                    return Sample(None, error=f"HTTP {resp.status}: the answer is not JSON")
                return parse(payload)

        names = list(queries)
        try:
            results = await asyncio.gather(*(one(queries[n]) for n in names))
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as err:
            raise PrometheusUnavailable(f"{base}: {type(err).__name__}: {err}") from None
        return dict(zip(names, results, strict=True))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def read_environment(
    client: PrometheusClient, prom: PrometheusSpec, *, timeout_s: float = 5.0
) -> dict[str, float]:
    """The observed environment: ``spec.tuning.prometheus.environment`` name
    (without ``env.``) -> value. A query with no usable sample (nothing
    matched, a PromQL error, NaN or infinite) is left out: the conformance
    check reports it unread, the tuning step holds when its learner needs it.
    Raises :class:`PrometheusUnavailable` when Prometheus cannot be read."""
    if not prom.environment:
        return {}
    samples = await client.query_all(prom.url, prom.environment, timeout_s=timeout_s)
    return {
        name: float(s.value)
        for name, s in samples.items()
        if s.error is None and s.value is not None and math.isfinite(s.value)
    }


@dataclass(frozen=True)
class Window:
    """One interval's reading of a UPIR's ``spec.tuning.prometheus``: the
    samples of the metric queries asked for, and the observed environment (as
    :func:`read_environment` gives it)."""

    metrics: Mapping[str, Sample]
    environment: Mapping[str, float]


class WindowReader:
    """Reads one UPIR's Prometheus at most once per query per interval. The
    conformance check and the tuning step of an interval share it, so both
    judge the same samples (and the same outage), and Prometheus answers each
    query once instead of twice; each step still asks only for what it needs.
    Make a new one every interval."""

    def __init__(self, client: PrometheusClient, *, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._prom: PrometheusSpec | None = None
        self._metrics: dict[str, Sample] = {}
        self._environment: dict[str, float] | None = None
        self._failed: PrometheusUnavailable | None = None
        self.queries_sent = 0
        """How many PromQL queries this reader sent (each at most once)."""

    async def read(self, prom: PrometheusSpec, metrics: Iterable[str] | None = None) -> Window:
        """The samples of ``metrics`` (names of ``prom.queries``; None: every
        one) and the environment. Raises :class:`PrometheusUnavailable` (again,
        for every later caller) once Prometheus could not be read."""
        if prom != self._prom:
            self._prom, self._metrics, self._environment, self._failed = prom, {}, None, None
        if self._failed is not None:
            raise type(self._failed)(str(self._failed))
        wanted = list(prom.queries) if metrics is None else [m for m in metrics]
        missing = {m: prom.queries[m] for m in wanted if m not in self._metrics}
        try:
            if missing:
                self.queries_sent += len(missing)
                self._metrics.update(
                    await self._client.query_all(prom.url, missing, timeout_s=self._timeout_s)
                )
            if self._environment is None:
                self.queries_sent += len(prom.environment)
                self._environment = await read_environment(
                    self._client, prom, timeout_s=self._timeout_s
                )
        except PrometheusUnavailable as err:
            self._failed = err
            raise
        return Window({m: self._metrics[m] for m in wanted}, dict(self._environment))
