"""Manifest templates: a UPIR plus (synthesized) parameter values -> Kubernetes
manifests. Pure functions; the operator applies what they return.

One module per system type (``api``, ``batch``, ``streaming``) says where the
types differ; :mod:`upir.templates.common` holds the shared builders.
"""

from upir.templates.common import (
    ANN_CERT_DIGEST,
    ANN_CERT_KEY_ID,
    ANN_CONTENT_HASH,
    ANN_PARAMS_HASH,
    ANN_SPEC_HASH,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    MANAGER,
    PARAMS_MOUNT_PATH,
    Manifest,
    min_available,
)
from upir.templates.names import dns_label, format_value, label_value
from upir.templates.render import TEMPLATES, entry_service, render_manifests

__all__ = [
    "ANN_CERT_DIGEST",
    "ANN_CERT_KEY_ID",
    "ANN_CONTENT_HASH",
    "ANN_PARAMS_HASH",
    "ANN_SPEC_HASH",
    "LABEL_MANAGED_BY",
    "LABEL_NAME",
    "MANAGER",
    "PARAMS_MOUNT_PATH",
    "TEMPLATES",
    "Manifest",
    "dns_label",
    "entry_service",
    "format_value",
    "label_value",
    "min_available",
    "render_manifests",
]
