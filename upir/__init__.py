"""upir: verify, synthesize and tune distributed-system parameters against a formal spec.

The public API is re-exported here, lazily (PEP 562) so that ``import upir.expr``
does not pull in the whole model, the solver or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "UPIR": "upir.core",
    "Architecture": "upir.core",
    "Component": "upir.core",
    "Connection": "upir.core",
    "Constraint": "upir.core",
    "Evidence": "upir.core",
    "FormalSpecification": "upir.core",
    "ParameterDomain": "upir.core",
    "ReasoningNode": "upir.core",
    "TemporalOperator": "upir.core",
    "TemporalProperty": "upir.core",
    "ExpressionError": "upir.errors",
    "FieldIssue": "upir.errors",
    "InvalidSpecError": "upir.errors",
    "PermanentError": "upir.errors",
    "TemporaryError": "upir.errors",
    "UpirError": "upir.errors",
    "Settings": "upir.settings",
    "load_settings": "upir.settings",
}

__all__ = [
    "UPIR",
    "Architecture",
    "Component",
    "Connection",
    "Constraint",
    "Evidence",
    "FormalSpecification",
    "ParameterDomain",
    "ReasoningNode",
    "TemporalOperator",
    "TemporalProperty",
    "ExpressionError",
    "FieldIssue",
    "InvalidSpecError",
    "PermanentError",
    "TemporaryError",
    "UpirError",
    "Settings",
    "load_settings",
    "__version__",
]

if TYPE_CHECKING:
    from upir.core import (
        UPIR,
        Architecture,
        Component,
        Connection,
        Constraint,
        Evidence,
        FormalSpecification,
        ParameterDomain,
        ReasoningNode,
        TemporalOperator,
        TemporalProperty,
    )
    from upir.errors import (
        ExpressionError,
        FieldIssue,
        InvalidSpecError,
        PermanentError,
        TemporaryError,
        UpirError,
    )
    from upir.settings import Settings, load_settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'upir' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
