"""The image tier: the built operator image, run as a cluster runs it.

It needs rootful podman and an image built by ./scripts/image, which sets
UPIR_IMAGE (and UPIR_IMAGE_OUT, the folder with the OCI layout and the SBOM),
points CONTAINERS_CONF at image-build.sh's runtime settings and runs this folder.
Without UPIR_IMAGE every test here is skipped, so the default ./scripts/test never
needs podman.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# How the chart runs the operator (values.yaml securityContext): uid 10001, read-only
# root, /tmp the one writable mount, no capabilities, no privilege escalation.
HARDENED = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs",
    "/tmp:rw,mode=1777",
    "--cap-drop=ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "10001:10001",
)

Podman = Callable[..., subprocess.CompletedProcess[str]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "image: the built container image (./scripts/image; needs UPIR_IMAGE, podman)"
    )


@pytest.fixture(scope="session")
def image() -> str:
    """The image under test (UPIR_IMAGE); the tier is skipped without it."""
    tag = os.environ.get("UPIR_IMAGE", "")
    if not tag:
        pytest.skip("UPIR_IMAGE is not set: ./scripts/image builds the image and runs this tier")
    return tag


@pytest.fixture(scope="session")
def image_out(image: str) -> Path:
    """The folder with the image's OCI layout and SBOM (UPIR_IMAGE_OUT)."""
    out = os.environ.get("UPIR_IMAGE_OUT", "")
    if not out:
        pytest.skip("UPIR_IMAGE_OUT is not set: ./scripts/image writes the OCI layout and SBOM")
    return Path(out)


@pytest.fixture(scope="session")
def podman(image: str) -> Podman:
    """``podman(*args, check=True, timeout=300)``: run podman, capture its output."""

    def run(
        *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def hardened_flags() -> tuple[str, ...]:
    """The ``podman run`` flags that run a container as the chart runs the pod."""
    return HARDENED


@pytest.fixture(scope="session")
def hardened(image: str, podman: Podman) -> Podman:
    """``hardened(*cmd, network="none", mounts=(), entrypoint=None, check=True)``:
    a throw-away container of the image, run as the chart runs it."""

    def run(
        *cmd: str,
        network: str = "none",
        mounts: tuple[str, ...] = (),
        entrypoint: str | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        args = ["run", "--rm", "--network", network, *HARDENED]
        for mount in mounts:
            args += ["-v", mount]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        return podman(*args, image, *cmd, check=check, timeout=timeout)

    return run
