"""The local stack the demo and the e2e tests run: the Kubernetes API emulator,
a real Prometheus server, the reference workload (with a kubelet stand-in that
projects the ConfigMap the operator writes into the workload's params folder),
the load generator and the real operator process.

Everything binds to 127.0.0.1 and everything started is stopped on exit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from upir_e2e.emulator import find_kubectl, start_in_thread
from upir_e2e.procutil import free_port
from upir_e2e.prometheus import PrometheusServer, ensure_prometheus_installed
from upir_e2e.workload import WorkloadProcess, project_configmap

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD_DIR = ROOT / "examples" / "reference-workload"
K8S_DIR = WORKLOAD_DIR / "k8s"
NAMESPACE = "demo"


def wait_for(what: str, fn: Callable[[], Any], timeout_s: float, period_s: float = 0.5) -> Any:
    """Poll ``fn`` until it returns something truthy (returned); TimeoutError after
    ``timeout_s`` naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(period_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}; last value: {last!r}")


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.bin = find_kubectl()

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.bin, "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def get(self, kind: str, name: str, ns: str = NAMESPACE) -> dict[str, Any] | None:
        proc = subprocess.run(
            [
                self.bin,
                "--kubeconfig",
                str(self.kubeconfig),
                "get",
                kind,
                name,
                "-n",
                ns,
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            return None
        obj: dict[str, Any] = json.loads(proc.stdout)
        return obj


class ConfigMapProjector(threading.Thread):
    """The kubelet's part: keep a ConfigMap's data projected into a folder (the
    same atomic ``..data`` swap a real volume mount uses)."""

    def __init__(self, kubectl: Kubectl, name: str, directory: Path, period_s: float = 0.5) -> None:
        super().__init__(name="configmap-projector", daemon=True)
        self.kubectl, self.cm_name, self.directory, self.period_s = (
            kubectl,
            name,
            directory,
            period_s,
        )
        self._halt = threading.Event()
        self.last: dict[str, str] | None = None
        self.changes: list[tuple[float, dict[str, str]]] = []

    def run(self) -> None:
        while not self._halt.wait(self.period_s):
            try:
                cm = self.kubectl.get("configmap", self.cm_name)
            except Exception:  # the API may be briefly away; try again next period
                continue
            data = (cm or {}).get("data")
            if isinstance(data, dict) and data != self.last:
                project_configmap(self.directory, data)
                self.last = dict(data)
                self.changes.append((time.time(), dict(data)))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


class OperatorProcess:
    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path, **env: str) -> None:
        full = dict(os.environ)
        full.update(
            UPIR_NAMESPACE=namespace,
            UPIR_METRICS_PORT=str(free_port()),
            UPIR_HEALTH_PORT=str(free_port()),
            UPIR_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        full.update(env)
        self.log_path = log_path
        self._fh = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "upir_operator", "--kubeconfig", str(kubeconfig)],
            env=full,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._fh.close()


class LoadThread(threading.Thread):
    """The reference load generator, open-loop, bounded in time; ``stop()`` ends it early."""

    def __init__(
        self, url: str, *, rps: float, duration_s: float, profile: str = "steady", seed: int = 0
    ) -> None:
        super().__init__(name="load", daemon=True)
        self.url, self.rps, self.duration_s, self.profile, self.seed = (
            url,
            rps,
            duration_s,
            profile,
            seed,
        )
        self.result: Any = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None

    def run(self) -> None:
        sys.path.insert(0, str(WORKLOAD_DIR))
        from refworkload.loadgen import run_load

        async def main() -> Any:
            self._loop, self._halt = asyncio.get_running_loop(), asyncio.Event()
            return await run_load(
                self.url,
                profile=self.profile,
                rps=self.rps,
                duration_s=self.duration_s,
                seed=self.seed,
                stop=self._halt,
            )

        try:
            self.result = asyncio.run(main())
        except BaseException as err:  # reported by the caller
            self.error = err

    def stop(self) -> None:
        if self._loop is not None and self._halt is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._halt.set)
        self.join(15)


class Stack:
    """Start with ``with Stack() as s:``; ``log`` receives progress lines."""

    def __init__(self, log: Callable[[str], None] = print, workdir: Path | None = None) -> None:
        self.log = log
        self._tmp = tempfile.TemporaryDirectory(prefix="upir-stack-")
        self.workdir = workdir or Path(self._tmp.name)
        self.params_dir = self.workdir / "params"
        self._stops: list[Callable[[], object]] = []

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        self.log("starting the Kubernetes API emulator")
        emu = start_in_thread()
        self._stops.append(emu.stop)
        self.kubectl = Kubectl(emu.kubeconfig_path)
        self.kubeconfig = emu.kubeconfig_path
        self.kubectl("apply", "--validate=false", "-f", str(ROOT / "crds" / "upir.dev_upirs.yaml"))
        self.kubectl("create", "namespace", NAMESPACE)
        cm = yaml.safe_load((K8S_DIR / "configmap.yaml").read_text())
        self.kubectl(
            "apply", "--validate=false", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump(cm)
        )
        project_configmap(self.params_dir, cm["data"])
        self.log("starting the reference workload (kubelet stand-in projects its ConfigMap)")
        self.workload = WorkloadProcess(self.params_dir)
        self.workload.start()
        self._stops.append(self.workload.stop)
        self.projector = ConfigMapProjector(self.kubectl, cm["metadata"]["name"], self.params_dir)
        self.projector.start()
        self._stops.append(self.projector.stop)
        self.log("starting Prometheus (Debian package) scraping the workload")
        ensure_prometheus_installed()
        self.prometheus = PrometheusServer([self.workload.target])
        self.prometheus.start()
        self._stops.append(self.prometheus.stop)
        self.prometheus.wait_for_targets_up(timeout_s=60)

    def on_exit(self, stop: Callable[[], object]) -> None:
        """Run ``stop`` when the stack shuts down (before the services it uses)."""
        self._stops.append(stop)

    def start_operator(self, **env: str) -> OperatorProcess:
        self.log("starting the operator")
        op = OperatorProcess(self.kubeconfig, NAMESPACE, self.workdir / "operator.log", **env)
        self._stops.append(op.stop)
        return op

    def upir_document(self, *, mode: str = "Auto", interval_s: int = 15) -> dict[str, Any]:
        doc: dict[str, Any] = yaml.safe_load((K8S_DIR / "upir.yaml").read_text())
        doc["spec"]["tuning"]["mode"] = mode
        doc["spec"]["tuning"]["intervalSeconds"] = interval_s
        doc["spec"]["tuning"]["prometheus"]["url"] = self.prometheus.url
        doc["metadata"].setdefault("annotations", {})["upir.dev/reload"] = "live"
        return doc

    def __exit__(self, *exc: object) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as err:  # keep stopping the rest
                self.log(f"cleanup: {err}")
        self._tmp.cleanup()
