"""Child-process helpers shared by the Prometheus and workload runners.

Every child runs in its own process group (``start_new_session``) so stopping it
also stops anything it forked, and every live child is remembered so an
interpreter that exits without its ``with`` block (an uncaught error, a Ctrl-C)
still takes its children down at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def track(proc: subprocess.Popen[bytes]) -> None:
    """Remember ``proc`` so ``kill_group`` at interpreter exit reaches it."""
    with _live_lock:
        _live.add(proc)


def kill_group(proc: subprocess.Popen[bytes], *, grace_s: float = 5.0) -> int | None:
    """SIGTERM the child's process group, then SIGKILL it after ``grace_s`` seconds.

    Returns the child's exit status (None only if it could not be reaped).
    """
    with _live_lock:
        _live.discard(proc)
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while children it forked are still in the group.
    _signal_group(proc, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    return proc.returncode


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # start_new_session made the child the leader of a group whose id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@atexit.register
def _kill_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for proc in leftovers:
        kill_group(proc, grace_s=2.0)


def http_get(url: str, *, timeout_s: float = 2.0) -> tuple[int, bytes]:
    """GET ``url``; (status, body). Raises ``OSError`` when nothing answers."""
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def http_post(url: str, data: bytes = b"", *, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """POST ``data`` to ``url``; (status, body). Raises ``OSError`` when nothing answers."""
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def wait_http_ok(
    url: str,
    *,
    timeout_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    interval_s: float = 0.05,
) -> bool:
    """Poll ``url`` until it answers 200; False on timeout or when ``proc`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            status, _ = http_get(url, timeout_s=1.0)
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(interval_s)
    return False


def tail(path: os.PathLike[str] | str, max_chars: int = 4000) -> str:
    """The end of a log file (for error messages); empty when unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_chars))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
