"""Open-loop load generator for the reference workload.

Arrivals are a Poisson process (seeded) whose rate follows a profile:

* ``steady``: ``rps`` for the whole run;
* ``shift``: ``rps`` for the first half, then ``rps x factor`` (a step change);
* ``ramp``: rises linearly from ``rps`` to ``rps x factor``.

Open loop means a request is sent at its arrival time whether or not earlier ones
have answered, as real users do; only ``max_inflight`` caps what this client holds
open (arrivals beyond it are counted as ``skipped``, not sent). Every run is bounded
by ``duration_s`` and ``max_requests``, and by default only loopback targets are
allowed, so a typo cannot load someone else's service.

Use ``run_load(...)`` from Python or ``python -m refworkload.loadgen`` from a shell.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

Profile = Literal["steady", "shift", "ramp"]
PROFILES: tuple[Profile, ...] = ("steady", "shift", "ramp")

MAX_RPS = 10_000.0
MAX_DURATION_S = 3_600.0
MAX_REQUESTS = 1_000_000


class LoadGenError(Exception):
    """Bad load generator arguments (reported without a traceback by the CLI)."""


def check_target(url: str, *, allow_non_loopback: bool = False) -> None:
    """Refuse anything but an http(s) URL on a loopback host, unless explicitly allowed.

    Host names other than ``localhost`` are refused rather than resolved: a name
    that resolves to loopback today may not tomorrow.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadGenError(f"not an http(s) URL: {url!r}")
    if allow_non_loopback:
        return
    host = parts.hostname
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LoadGenError(
            f"refusing to load non-loopback host {host!r} (pass allow_non_loopback / "
            "--allow-non-loopback to load it on purpose)"
        )


def rate_at(profile: Profile, rps: float, factor: float, t: float, duration_s: float) -> float:
    """Arrival rate (requests/s) of ``profile`` at ``t`` seconds into the run."""
    if profile == "steady":
        return rps
    if profile == "shift":
        return rps if t < duration_s / 2 else rps * factor
    if profile == "ramp":
        fraction = min(max(t / duration_s, 0.0), 1.0) if duration_s > 0 else 1.0
        return rps + (rps * factor - rps) * fraction
    raise LoadGenError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")


def arrival_times(
    profile: Profile, rps: float, factor: float, duration_s: float, seed: int, limit: int
) -> list[float]:
    """Poisson arrival times (seconds from start) by thinning, at most ``limit`` of them."""
    peak = max(rps, rps * factor)
    if peak <= 0 or duration_s <= 0:
        return []
    rng = random.Random(seed)
    times: list[float] = []
    t = 0.0
    while len(times) < limit:
        t += rng.expovariate(peak)
        if t >= duration_s:
            break
        if rng.random() * peak < rate_at(profile, rps, factor, t, duration_s):
            times.append(t)
    return times


@dataclass(slots=True)
class LoadResult:
    """What a run did. Latencies are milliseconds, of requests that got an answer."""

    profile: str
    planned: int
    sent: int = 0
    skipped: int = 0
    client_timeouts: int = 0
    client_errors: int = 0
    status: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.status.values())

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.status.items() if 200 <= code < 300)

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def error_fraction(self) -> float:
        """Non-2xx answers, client timeouts and client errors over requests sent."""
        return (self.sent - self.ok) / self.sent if self.sent else 0.0

    def percentile_ms(self, q: float) -> float | None:
        """Nearest-rank ``q`` quantile (0..1) of the answered latencies."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(q * len(ordered)))
        return ordered[rank - 1]

    def to_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "planned": self.planned,
            "sent": self.sent,
            "skipped": self.skipped,
            "answered": self.answered,
            "ok": self.ok,
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "client_timeouts": self.client_timeouts,
            "client_errors": self.client_errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "achieved_rps": round(self.achieved_rps, 2),
            "error_fraction": round(self.error_fraction, 5),
            "p50_ms": _round(self.percentile_ms(0.50)),
            "p90_ms": _round(self.percentile_ms(0.90)),
            "p99_ms": _round(self.percentile_ms(0.99)),
        }

    def summary(self) -> str:
        d = self.to_dict()
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.status.items())) or "-"
        return (
            f"profile={d['profile']} sent={d['sent']}/{d['planned']} skipped={d['skipped']} "
            f"rps={d['achieved_rps']} status[{codes}] client_timeouts={d['client_timeouts']} "
            f"client_errors={d['client_errors']} errors={d['error_fraction']} "
            f"p50={d['p50_ms']}ms p90={d['p90_ms']}ms p99={d['p99_ms']}ms"
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def run_load(
    url: str,
    *,
    profile: Profile = "steady",
    rps: float,
    duration_s: float,
    seed: int = 0,
    factor: float = 2.0,
    max_requests: int | None = None,
    max_inflight: int = 512,
    timeout_s: float = 10.0,
    method: str = "POST",
    allow_non_loopback: bool = False,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """Send an open-loop Poisson load to ``url`` and return what happened.

    ``rps`` is requests/second, ``duration_s`` the arrival window in seconds (in-flight
    requests then get up to ``timeout_s`` to finish), ``factor`` the rate multiplier
    of the ``shift`` and ``ramp`` profiles. ``stop`` ends the arrivals early.
    Raises ``LoadGenError`` on arguments outside the bounds.
    """
    check_target(url, allow_non_loopback=allow_non_loopback)
    if profile not in PROFILES:
        raise LoadGenError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if not 0 < rps <= MAX_RPS or not 0 < rps * factor <= MAX_RPS:
        raise LoadGenError(f"rates must be within (0, {MAX_RPS:g}] requests/s")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise LoadGenError(f"duration must be within (0, {MAX_DURATION_S:g}] s")
    if not 0 < timeout_s <= 300 or max_inflight < 1:
        raise LoadGenError("timeout_s must be within (0, 300] and max_inflight >= 1")
    if method not in ("GET", "POST"):
        raise LoadGenError("method must be GET or POST")
    limit = MAX_REQUESTS if max_requests is None else min(max_requests, MAX_REQUESTS)
    if limit < 1:
        raise LoadGenError("max_requests must be >= 1")
    schedule = arrival_times(profile, rps, factor, duration_s, seed, limit)
    result = LoadResult(profile=profile, planned=len(schedule))
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    connector = aiohttp.TCPConnector(limit=max_inflight)
    inflight: set[asyncio.Task[None]] = set()

    async def one(session: aiohttp.ClientSession) -> None:
        started = time.monotonic()
        try:
            async with session.request(method, url) as response:
                await response.read()
                result.status[response.status] += 1
                result.latencies_ms.append((time.monotonic() - started) * 1000.0)
        except TimeoutError:
            result.client_timeouts += 1
        except aiohttp.ClientError:
            result.client_errors += 1

    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = loop.time()
        for at in schedule:
            if stop is not None and stop.is_set():
                break
            delay = start + at - loop.time()
            if delay > 0:
                if stop is None:
                    await asyncio.sleep(delay)
                else:
                    try:
                        await asyncio.wait_for(stop.wait(), delay)
                        break
                    except TimeoutError:
                        pass
            if len(inflight) >= max_inflight:
                result.skipped += 1
                continue
            task = loop.create_task(one(session))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            result.sent += 1
        if inflight:
            _, pending = await asyncio.wait(set(inflight), timeout=timeout_s + 1.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        result.elapsed_s = loop.time() - start
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m refworkload.loadgen",
        description="Open-loop Poisson load against the reference workload (loopback only).",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080/work", help="target URL")
    parser.add_argument("--profile", choices=PROFILES, default="steady")
    parser.add_argument("--rps", type=float, required=True, help="base arrival rate, requests/s")
    parser.add_argument("--duration", type=float, required=True, help="arrival window, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--factor", type=float, default=2.0, help="rate multiplier of shift/ramp (default 2)"
    )
    parser.add_argument("--max-requests", type=int, default=None, help="cap on requests sent")
    parser.add_argument("--max-inflight", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument("--method", choices=("GET", "POST"), default="POST")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow a target that is not on a loopback address",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = asyncio.run(
            run_load(
                args.url,
                profile=args.profile,
                rps=args.rps,
                duration_s=args.duration,
                seed=args.seed,
                factor=args.factor,
                max_requests=args.max_requests,
                max_inflight=args.max_inflight,
                timeout_s=args.timeout,
                method=args.method,
                allow_non_loopback=args.allow_non_loopback,
            )
        )
    except LoadGenError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result.to_dict()) if args.json else result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
