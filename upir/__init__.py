"""upir: verify, synthesize and tune distributed-system parameters against a formal spec.

The public API is re-exported here; everything else is internal.
"""

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

__version__ = "0.1.0"

__all__ = [
    "UPIR",
    "Architecture",
    "Component",
    "Connection",
    "Constraint",
    "Evidence",
    "ExpressionError",
    "FieldIssue",
    "FormalSpecification",
    "InvalidSpecError",
    "ParameterDomain",
    "PermanentError",
    "ReasoningNode",
    "TemporalOperator",
    "TemporalProperty",
    "TemporaryError",
    "UpirError",
    "__version__",
]
