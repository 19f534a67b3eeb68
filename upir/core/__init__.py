"""The UPIR data model: architecture, specification, evidence and the UPIR object."""

from upir.core.architecture import Architecture, Component, Connection
from upir.core.catalog import COMPONENT_TYPES, CONSTRAINT_KEYS, SYSTEM_QUANTITIES
from upir.core.evidence import Evidence, ReasoningGraph, ReasoningNode
from upir.core.numbers import Number, to_fraction, to_json_number
from upir.core.specification import (
    Assumption,
    Constraint,
    FormalSpecification,
    ParameterDomain,
    PrometheusSpec,
    Target,
    TuningSpec,
    canonical_hash,
    canonical_json,
)
from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR

__all__ = [
    "COMPONENT_TYPES",
    "CONSTRAINT_KEYS",
    "SYSTEM_QUANTITIES",
    "UPIR",
    "Architecture",
    "Assumption",
    "Component",
    "Connection",
    "Constraint",
    "Evidence",
    "FormalSpecification",
    "Number",
    "ParameterDomain",
    "PrometheusSpec",
    "ReasoningGraph",
    "ReasoningNode",
    "Target",
    "TemporalOperator",
    "TemporalProperty",
    "TuningSpec",
    "canonical_hash",
    "canonical_json",
    "to_fraction",
    "to_json_number",
]
