"""The ``UPIR`` CustomResourceDefinition, built from :mod:`upir.resource.schema`.

``python -m upir.resource.crd`` prints :func:`crd_yaml`; ``crds/upir.dev_upirs.yaml``
is that output, committed, and a test fails when the two differ.
"""

from __future__ import annotations

from typing import Any

import yaml

from upir.resource.schema import (
    CRD_NAME,
    GROUP,
    KIND,
    LIST_KIND,
    PLURAL,
    PRINTER_COLUMNS,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    openapi_schema,
    thaw,
)

REGENERATE_COMMAND = "python -m upir.resource.crd > crds/upir.dev_upirs.yaml"

HEADER = (
    "# GENERATED FILE: do not edit by hand.\n"
    "# Source: upir/resource/schema.py (the single source of truth for the UPIR schema).\n"
    f"# Regenerate with: {REGENERATE_COMMAND}\n"
)


def build_crd() -> dict[str, Any]:
    """The CRD as a fresh ``apiextensions.k8s.io/v1`` manifest (a plain dict)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/part-of": "upir-operator"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": LIST_KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": thaw(PRINTER_COLUMNS),
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with indented sequences (the layout kubectl and Helm print)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def crd_yaml() -> str:
    """The CRD as the YAML text of ``crds/upir.dev_upirs.yaml``, header included."""
    body = yaml.dump(
        build_crd(),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,  # never fold long CEL rules or descriptions
    )
    return HEADER + body
