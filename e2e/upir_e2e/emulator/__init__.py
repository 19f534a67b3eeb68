"""A Kubernetes API emulator over kmock that kopf, kubectl and the Python client can drive.

See README.md in this folder for what it does and does not do.
"""

from .api import KubernetesApiEmulator
from .errors import ApiError
from .registry import Registry, ResourceType
from .server import EmulatorServer, EmulatorThread, find_kubectl, kubeconfig, start_in_thread
from .store import Store, WriteOptions

__all__ = [
    "ApiError",
    "EmulatorServer",
    "EmulatorThread",
    "KubernetesApiEmulator",
    "Registry",
    "ResourceType",
    "Store",
    "WriteOptions",
    "find_kubectl",
    "kubeconfig",
    "start_in_thread",
]
