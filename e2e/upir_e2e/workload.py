"""The reference workload run as a local process, and a kubelet stand-in for its ConfigMap.

``WorkloadProcess`` starts ``python -m refworkload`` (from
``examples/reference-workload``) on a free loopback port, reading its parameters
from a ConfigMap-style directory, waits for ``/healthz``, and stops it by killing
its process group, so nothing outlives the test or demo that started it.

``project_configmap(directory, data)`` writes ConfigMap data into a directory the
way the kubelet updates a mounted ConfigMap volume (files behind a ``..data``
symlink that is swapped atomically), so the workload sees exactly what it would
see in a pod, and never a half-written value.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from upir_e2e.procutil import free_port, http_get, kill_group, tail, track, wait_http_ok

REFWORKLOAD_DIR = Path(__file__).resolve().parents[2] / "examples" / "reference-workload"

# ConfigMap key syntax (Kubernetes validation: IsConfigMapKey).
_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")


class WorkloadError(RuntimeError):
    """The workload process could not be started or did not answer."""


def format_value(value: str | int | float) -> str:
    """A ConfigMap value string for ``value`` (integral floats without ``.0``)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not parameter values")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def project_configmap(directory: Path, data: Mapping[str, str | int | float]) -> None:
    """Make ``directory`` hold exactly ``data``, as a kubelet-mounted ConfigMap volume.

    Layout (the kubelet's AtomicWriter): the values live in a fresh
    ``..<timestamp>`` folder, ``..data`` is a symlink to it that is replaced with an
    atomic rename, and each key is a symlink ``key -> ..data/key``. Readers therefore
    switch from the old set of values to the new one at once. Keys that left ``data``
    disappear; old timestamp folders are removed.
    """
    for key in data:
        if not _KEY.match(key) or key in (".", "..") or key.startswith(".."):
            raise ValueError(f"invalid ConfigMap key: {key!r}")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
    payload = Path(tempfile.mkdtemp(prefix=f"..{stamp}.", dir=directory))
    for key, value in data.items():
        (payload / key).write_text(format_value(value), encoding="utf-8")
        (payload / key).chmod(0o644)
    payload.chmod(0o755)
    tmp_link = directory / "..data_tmp"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(payload.name)
    os.replace(tmp_link, directory / "..data")
    for key in data:
        link = directory / key
        if not link.is_symlink():
            if link.exists():
                link.unlink()
            link.symlink_to(Path("..data") / key)
    for entry in os.listdir(directory):
        path = directory / entry
        if entry.startswith(".."):
            if entry not in ("..data", payload.name) and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
        elif entry not in data and path.is_symlink():
            path.unlink()


@dataclass(frozen=True, slots=True)
class DownstreamSettings:
    """The worker stage's service-time model (ms) and failure probability."""

    overhead_ms: float = 20.0
    per_item_ms: float = 5.0
    jitter_ms: float = 5.0
    failure_rate: float = 0.001
    seed: int = 0

    def args(self) -> list[str]:
        return [
            f"--downstream-overhead-ms={self.overhead_ms}",
            f"--downstream-per-item-ms={self.per_item_ms}",
            f"--downstream-jitter-ms={self.jitter_ms}",
            f"--downstream-failure-rate={self.failure_rate}",
            f"--seed={self.seed}",
        ]


class WorkloadProcess:
    """``python -m refworkload`` as a child process on ``host`` (loopback by default).

    ``params_path`` is the ConfigMap directory (or JSON/YAML file) the workload reads
    and polls every ``poll_s`` seconds. Output goes to ``log_path`` (a temporary file
    by default, removed on ``stop()``).
    """

    def __init__(
        self,
        params_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        downstream: DownstreamSettings | None = None,
        poll_s: float = 0.5,
        python: str = sys.executable,
        source_dir: Path = REFWORKLOAD_DIR,
        log_path: Path | None = None,
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.params_path = params_path
        self.host = host
        self._requested_port = port
        self.port = 0
        self.downstream = downstream or DownstreamSettings()
        self.poll_s = poll_s
        self.python = python
        self.source_dir = source_dir
        self._log_path = log_path
        self._own_log = log_path is None
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def work_url(self) -> str:
        return f"{self.url}/work"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def target(self) -> str:
        """``host:port``, as a Prometheus static target."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def start(self) -> None:
        """Start the process and wait for ``/healthz``; raises ``WorkloadError``."""
        if self._proc is not None:
            raise WorkloadError("already started")
        if not (self.source_dir / "refworkload" / "__main__.py").is_file():
            raise WorkloadError(f"reference workload not found under {self.source_dir}")
        if not self.params_path.exists():
            raise WorkloadError(f"parameter source {self.params_path} does not exist")
        if self._log_path is None:
            handle, name = tempfile.mkstemp(prefix="refworkload-", suffix=".log")
            os.close(handle)
            self._log_path = Path(name)
        attempts = 1 if self._requested_port else 3
        for _ in range(attempts):
            self.port = self._requested_port or free_port(self.host)
            if self._spawn():
                return
            if "address already in use" not in self.log_tail().lower():
                break
        message = (
            f"refworkload did not become healthy within {self.startup_timeout_s:g} s; "
            f"log tail:\n{self.log_tail()}"
        )
        self.stop()  # removes our own log file
        raise WorkloadError(message)

    def _spawn(self) -> bool:
        assert self._log_path is not None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.source_dir), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            self.python,
            "-m",
            "refworkload",
            f"--params-file={self.params_path}",
            f"--host={self.host}",
            f"--port={self.port}",
            f"--poll-s={self.poll_s}",
            *self.downstream.args(),
        ]
        with open(self._log_path, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        track(proc)
        self._proc = proc
        if wait_http_ok(f"{self.url}/healthz", timeout_s=self.startup_timeout_s, proc=proc):
            return True
        kill_group(proc)
        self._proc = None
        return False

    def stop(self) -> int | None:
        """Stop the process group (SIGTERM, then SIGKILL); its exit status. Idempotent."""
        proc, self._proc = self._proc, None
        status = None if proc is None else kill_group(proc)
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
        return status

    def restart(self) -> None:
        """Stop and start again on the same port (what a pod restart looks like)."""
        keep_port = self.port
        keep_log = self._own_log
        self._own_log = False  # keep the log across the restart
        try:
            self.stop()
        finally:
            self._own_log = keep_log
        self._requested_port = keep_port or self._requested_port
        self.start()

    def params(self) -> dict[str, float]:
        """The parameters the running workload uses now (``GET /params``)."""
        try:
            status, body = http_get(f"{self.url}/params", timeout_s=5.0)
        except OSError as exc:
            raise WorkloadError(f"/params unreachable: {exc}") from exc
        if status != 200:
            raise WorkloadError(f"/params answered {status}")
        data = json.loads(body)
        return {str(k): float(v) for k, v in data.items()}

    def wait_for_params(
        self, expected: Mapping[str, float], *, timeout_s: float = 10.0
    ) -> dict[str, float]:
        """Wait until the workload runs with ``expected`` values; the full parameter set.

        Raises ``WorkloadError`` after ``timeout_s`` seconds, showing what it runs with.
        """
        deadline = time.monotonic() + timeout_s
        current: dict[str, float] = {}
        while True:
            current = self.params()
            if all(current.get(k) == float(v) for k, v in expected.items()):
                return current
            if time.monotonic() >= deadline:
                raise WorkloadError(f"parameters not applied within {timeout_s:g} s: {current}")
            time.sleep(0.1)

    def log_tail(self, max_chars: int = 4000) -> str:
        return "" if self._log_path is None else tail(self._log_path, max_chars)

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
        await asyncio.shield(asyncio.to_thread(self.stop))
