"""Renaming components throughout a UPIR resource document.

Component names appear in the component list, the connections, every predicate,
trigger and assumption (as ``<component>.<attr>`` and as ``env.<component>_*``)
and the tunable parameter names; renaming must reach all of them or the
document stops meaning the same system.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from upir.core.catalog import COMPONENT_TYPES
from upir.expr import parse, to_source
from upir.patterns.pattern import map_names

Resource = dict[str, Any]

# Environment names derived from a component name: the catalogue's per-type ones
# (service_ms, failure_rate) and the drain rate of a queue with no consumer
# (``upir.verification.structure.drain_rps_name``).
_ENV_SUFFIXES = tuple(sorted({k for t in COMPONENT_TYPES.values() for k in t.env} | {"drain_rps"}))


def _rename_expr(text: str, mapping: Mapping[str, str], field: str) -> str:
    def fn(name: str) -> str:
        scope, _, attr = name.partition(".")
        if scope in mapping:
            return f"{mapping[scope]}.{attr}"
        if scope == "env":
            for old, new in mapping.items():
                for suffix in _ENV_SUFFIXES:
                    if attr == f"{old}_{suffix}":
                        return f"env.{new}_{suffix}"
        return name

    return to_source(map_names(parse(text, field=field), fn))


def rename_components(doc: Resource, mapping: Mapping[str, str]) -> Resource:
    """A copy of ``doc`` with components renamed everywhere they appear:
    components, connections, predicates, triggers, assumptions (``env.<c>_*``)
    and tunable parameter names."""
    out = copy.deepcopy(doc)
    spec = out["spec"]
    for c in spec["architecture"]["components"]:
        c["name"] = mapping.get(c["name"], c["name"])
    for c in spec["architecture"].get("connections", []):
        c["from"] = mapping.get(c["from"], c["from"])
        c["to"] = mapping.get(c["to"], c["to"])
    sspec = spec.get("specification", {})
    sspec["assumptions"] = [
        _rename_expr(a, mapping, "assumption") for a in sspec.get("assumptions", [])
    ]
    for key in ("invariants", "properties"):
        for p in sspec.get(key, []):
            p["predicate"] = _rename_expr(p["predicate"], mapping, "predicate")
            if "trigger" in p:
                p["trigger"] = _rename_expr(p["trigger"], mapping, "trigger")
    for d in spec.get("parameters", []):
        comp, _, param = d["name"].partition(".")
        d["name"] = f"{mapping.get(comp, comp)}.{param}"
    return out
