"""The UPIR resource: its schema (the CRD's, single source of truth), the CRD built
from it, validation of resource documents against it, and safe file loading."""

from upir.resource.definition import build_crd, crd_yaml
from upir.resource.json_schema import document_json_schema, json_schema
from upir.resource.loading import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    field_line,
    load_documents,
)
from upir.resource.schema import (
    API_VERSION,
    CRD_NAME,
    GROUP,
    KIND,
    LIST_KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    SPEC_SCHEMA,
    STATUS_SCHEMA,
    UPIR_SCHEMA,
    VERSION,
    openapi_schema,
)
from upir.resource.validate import schema_issues, status_issues, structural_issues

__all__ = [
    "API_VERSION",
    "CRD_NAME",
    "GROUP",
    "KIND",
    "LIST_KIND",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODES",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "SPEC_SCHEMA",
    "STATUS_SCHEMA",
    "UPIR_SCHEMA",
    "VERSION",
    "build_crd",
    "crd_yaml",
    "document_json_schema",
    "field_line",
    "json_schema",
    "load_documents",
    "openapi_schema",
    "schema_issues",
    "status_issues",
    "structural_issues",
]
