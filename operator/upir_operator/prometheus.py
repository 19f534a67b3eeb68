"""Reads the configured PromQL from Prometheus's HTTP API (``/api/v1/query``).

Each query must return one scalar (a scalar result, or a vector of exactly one
sample). Anything else is reported per metric, so the tuning loop can hold with
a reason instead of acting on half a picture. Outages raise
:class:`PrometheusUnavailable` (temporary).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

import aiohttp

from upir_operator.decisions import Sample


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or answered with an error; retry later."""


def _parse(payload: object) -> Sample:
    if not isinstance(payload, dict) or payload.get("status") != "success":
        return Sample(None)
    data = payload.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        ts, raw = result
    elif kind == "vector" and isinstance(result, list) and len(result) == 1:
        ts, raw = result[0].get("value", [None, None])
    else:
        return Sample(None)
    try:
        value = float(raw)
        stamp = float(ts)
    except (TypeError, ValueError):
        return Sample(None)
    return Sample(value if not math.isnan(value) else math.nan, stamp)


async def query_all(url: str, queries: Mapping[str, str], *, timeout_s: float) -> dict[str, Sample]:
    """Every query at the current time; a missing/ambiguous result is Sample(None)."""
    base = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def one(promql: str) -> Sample:
                async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
                    if resp.status >= 500:
                        raise PrometheusUnavailable(f"{base}: HTTP {resp.status}")
                    return _parse(await resp.json(content_type=None))

            names = list(queries)
            results = await asyncio.gather(*(one(queries[n]) for n in names))
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise PrometheusUnavailable(f"{base}: {type(err).__name__}: {err}") from None
    return dict(zip(names, results, strict=True))
