"""A real Prometheus server on loopback for tests, the e2e harness and the demo.

``ensure_prometheus_installed()`` finds the Debian ``prometheus`` binary, installing
the package with apt when it is missing and we are root. ``PrometheusServer`` writes
its own config, runs ``prometheus`` on ``127.0.0.1:<free port>`` with a throw-away
TSDB directory, answers PromQL through the HTTP API, and always kills the process
group and removes the directory when it stops::

    with PrometheusServer(["127.0.0.1:8080"], scrape_interval_s=1.0) as prom:
        prom.wait_for_targets_up(timeout_s=10)
        p99_ms = prom.query('histogram_quantile(0.99, sum(rate('
                            'refworkload_request_duration_seconds_bucket[30s])) by (le)) * 1000')
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from upir_e2e.procutil import free_port, http_get, http_post, kill_group, tail, track, wait_http_ok

DEFAULT_BINARY = Path("/usr/bin/prometheus")
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "upir-e2e-prometheus-install.lock"


class PrometheusError(RuntimeError):
    """Prometheus could not be installed, started, reloaded or queried."""


def ensure_prometheus_installed(
    binary: Path = DEFAULT_BINARY, *, install: bool = True, timeout_s: float = 900.0
) -> Path:
    """Path of a usable ``prometheus`` binary, installing the Debian package if needed.

    Looks at ``binary`` and then ``PATH``. When neither has it and ``install`` is set,
    runs ``apt-get install -y --no-install-recommends prometheus`` (after ``apt-get
    update`` when the package is not known yet), which needs root; otherwise raises
    ``PrometheusError`` naming the command to run. A file lock serialises installs
    from parallel test workers. ``timeout_s`` bounds each apt command (seconds).
    """
    found = _find(binary)
    if found is not None:
        return found
    if not install:
        raise PrometheusError(f"prometheus not found at {binary} or on PATH")
    if os.geteuid() != 0:
        raise PrometheusError(
            "prometheus is not installed and installing it needs root: run "
            "`sudo apt-get update && sudo apt-get install -y --no-install-recommends prometheus`"
        )
    if shutil.which("apt-get") is None:
        raise PrometheusError("prometheus is not installed and apt-get is not available")
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find(binary)  # another worker may have installed it while we waited
        if found is not None:
            return found
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install_cmd = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
        if _run(install_cmd, env, timeout_s) != 0:
            # Usually a stale or empty package index (fresh containers have none).
            if _run(["apt-get", "update"], env, timeout_s) != 0:
                raise PrometheusError("`apt-get update` failed; cannot install prometheus")
            if _run(install_cmd, env, timeout_s) != 0:
                raise PrometheusError("`apt-get install prometheus` failed")
    found = _find(binary)
    if found is None:
        raise PrometheusError("prometheus package installed but no prometheus binary found")
    return found


def _find(binary: Path) -> Path | None:
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    which = shutil.which("prometheus")
    return Path(which) if which else None


def _run(cmd: list[str], env: dict[str, str], timeout_s: float) -> int:
    try:
        done = subprocess.run(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        raise PrometheusError(f"`{' '.join(cmd)}` took longer than {timeout_s:g} s") from exc
    return done.returncode


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant-vector result."""

    labels: dict[str, str]
    value: float


class PrometheusServer:
    """A ``prometheus`` process scraping ``targets`` (``host:port`` strings) on loopback.

    ``scrape_interval_s`` is also the rule evaluation interval; the scrape timeout is
    the smaller of it and 5 s. Use as a (sync or async) context manager, or call
    ``start()``/``stop()``. The TSDB lives in a temporary directory that ``stop()``
    removes.
    """

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        scrape_interval_s: float = 1.0,
        job: str = "refworkload",
        metrics_path: str = "/metrics",
        binary: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 30.0,
    ) -> None:
        if not 0.1 <= scrape_interval_s <= 3600:
            raise ValueError("scrape_interval_s must be within [0.1, 3600]")
        self._targets = list(targets)
        self.scrape_interval_s = scrape_interval_s
        self.job = job
        self.metrics_path = metrics_path
        self._binary = binary
        self.host = host
        self._requested_port = port
        self.port = 0
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._proc is None:
            raise PrometheusError("the server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def targets(self) -> list[str]:
        return list(self._targets)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def workdir(self) -> Path | None:
        """The temporary directory holding the config, the log and the TSDB."""
        return self._workdir

    @property
    def log_path(self) -> Path | None:
        return None if self._workdir is None else self._workdir / "prometheus.log"

    def start(self) -> None:
        """Start the server and wait for ``/-/ready``; raises ``PrometheusError``."""
        if self._proc is not None:
            raise PrometheusError("already started")
        binary = self._binary or ensure_prometheus_installed()
        self._workdir = Path(tempfile.mkdtemp(prefix="upir-prometheus-"))
        try:
            self._write_config()
            # A free port can be taken between picking and binding; try a few.
            attempts = 1 if self._requested_port else 3
            for attempt in range(attempts):
                self.port = self._requested_port or free_port(self.host)
                if self._spawn(binary):
                    return
                if attempt + 1 < attempts and "address already in use" in self._log_tail():
                    continue
                break
            raise PrometheusError(
                f"prometheus did not become ready within {self.startup_timeout_s:g} s; "
                f"log tail:\n{self._log_tail()}"
            )
        except BaseException:
            self.stop()
            raise

    def _spawn(self, binary: Path) -> bool:
        assert self._workdir is not None
        data = self._workdir / "data"
        data.mkdir(exist_ok=True)
        cmd = [
            str(binary),
            f"--config.file={self._workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        with open(self._workdir / "prometheus.log", "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._workdir,
                start_new_session=True,
            )
        track(proc)
        self._proc = proc
        if wait_http_ok(
            f"http://{self.host}:{self.port}/-/ready", timeout_s=self.startup_timeout_s, proc=proc
        ):
            return True
        kill_group(proc)
        self._proc = None
        return False

    def stop(self) -> None:
        """Kill the process group and remove the data directory (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_group(proc)
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Shield the cleanup: a cancelled test must still not leave a server behind.
        await asyncio.shield(asyncio.to_thread(self.stop))

    # -- configuration -----------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The Prometheus configuration this server runs with."""
        interval = _duration(self.scrape_interval_s)
        return {
            "global": {
                "scrape_interval": interval,
                "evaluation_interval": interval,
                "scrape_timeout": _duration(min(self.scrape_interval_s, 5.0)),
            },
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": list(self._targets)}],
                }
            ],
        }

    def _write_config(self) -> None:
        assert self._workdir is not None
        path = self._workdir / "prometheus.yml"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)

    def set_targets(self, targets: Sequence[str]) -> None:
        """Replace the scrape targets and reload the running server's config."""
        self._targets = list(targets)
        if self._proc is None:
            return
        self._write_config()
        try:
            status, body = http_post(f"{self.url}/-/reload", timeout_s=10.0)
        except OSError as exc:
            raise PrometheusError(f"reload failed: {exc}") from exc
        if status != 200:
            raise PrometheusError(f"reload failed ({status}): {body.decode(errors='replace')}")

    # -- queries -----------------------------------------------------------------

    def query_raw(self, promql: str, *, at: float | None = None) -> dict[str, Any]:
        """The ``data`` object of ``/api/v1/query``; raises ``PrometheusError`` on errors."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            status, body = http_get(url, timeout_s=10.0)
        except OSError as exc:
            raise PrometheusError(f"query failed: {exc}") from exc
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise PrometheusError(f"query answered {status} with non-JSON body") from exc
        if payload.get("status") != "success":
            raise PrometheusError(
                f"query {promql!r} failed ({status}): {payload.get('errorType')}: "
                f"{payload.get('error')}"
            )
        data = payload.get("data")
        if not isinstance(data, dict):
            raise PrometheusError("query answer has no data object")
        return data

    def query_vector(self, promql: str, *, at: float | None = None) -> list[Sample]:
        """An instant query's samples (a scalar result gives one unlabelled sample)."""
        data = self.query_raw(promql, at=at)
        kind = data.get("resultType")
        result = data.get("result")
        if kind == "scalar" and isinstance(result, list):
            return [Sample({}, float(result[1]))]
        if kind == "vector" and isinstance(result, list):
            return [Sample(dict(item["metric"]), float(item["value"][1])) for item in result]
        raise PrometheusError(f"query {promql!r} gave a {kind} result, expected a vector")

    def query(self, promql: str, *, at: float | None = None) -> float | None:
        """The single number ``promql`` evaluates to, or None when there is no data.

        "No data" is an empty vector or NaN (what ``histogram_quantile`` and ratios of
        zero rates give before traffic arrives). More than one series is an error.
        """
        samples = self.query_vector(promql, at=at)
        if not samples:
            return None
        if len(samples) > 1:
            raise PrometheusError(
                f"query {promql!r} returned {len(samples)} series; aggregate it to one"
            )
        value = samples[0].value
        return None if math.isnan(value) else value

    def wait_for_value(
        self,
        promql: str,
        *,
        timeout_s: float,
        predicate: Callable[[float], bool] = lambda _: True,
        interval_s: float = 0.5,
    ) -> float:
        """Poll ``promql`` until it has a value satisfying ``predicate``; that value.

        Raises ``PrometheusError`` after ``timeout_s`` seconds, naming the last value.
        """
        deadline = time.monotonic() + timeout_s
        last: float | None = None
        while True:
            last = self.query(promql)
            if last is not None and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise PrometheusError(f"{promql!r} did not reach the expected value; last {last}")
            time.sleep(interval_s)

    def target_health(self) -> dict[str, str]:
        """``{"host:port": "up" | "down" | "unknown"}`` for the active targets."""
        try:
            status, body = http_get(f"{self.url}/api/v1/targets?state=active", timeout_s=10.0)
        except OSError as exc:
            raise PrometheusError(f"targets query failed: {exc}") from exc
        if status != 200:
            raise PrometheusError(f"targets query answered {status}")
        active = json.loads(body)["data"]["activeTargets"]
        return {t["labels"].get("instance", t["scrapeUrl"]): t["health"] for t in active}

    def wait_for_targets_up(self, *, timeout_s: float = 30.0) -> None:
        """Wait until every configured target has been scraped successfully."""
        deadline = time.monotonic() + timeout_s
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            health = self.target_health()
            if set(self._targets) <= {t for t, h in health.items() if h == "up"}:
                return
            time.sleep(min(0.25, self.scrape_interval_s))
        raise PrometheusError(f"targets not up within {timeout_s:g} s: {health}")

    async def aquery(self, promql: str, *, at: float | None = None) -> float | None:
        """``query`` without blocking the event loop."""
        return await asyncio.to_thread(self.query, promql, at=at)

    def _log_tail(self) -> str:
        path = self.log_path
        return "" if path is None else tail(path)


def _duration(seconds: float) -> str:
    """A Prometheus duration string (whole milliseconds)."""
    return f"{max(1, round(seconds * 1000))}ms"


__all__ = [
    "DEFAULT_BINARY",
    "PrometheusError",
    "PrometheusServer",
    "Sample",
    "ensure_prometheus_installed",
]
