"""Feature vectors of UPIR architectures, for clustering and matching.

Every feature is bounded in how it grows with size so that no single raw count
dominates and nothing saturates: counts and magnitudes are ``log1p``-scaled
(3 vs 6 components differ by 0.56, 30 vs 60 by 0.68: still distinguishable),
shares lie in ``[0, 1]`` and flags are 0 or 1. The reference implementation
clipped its features at 1, so every architecture above a small size looked the
same; these do not clip.

Each feature carries a *tolerance*: the difference on that feature that counts
as "one unit of dissimilarity" when matching (see :mod:`upir.patterns.matching`).
Tolerances are fixed per feature rather than learned from a library, so a
similarity score means the same thing whatever else is in the library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from upir.core.architecture import Architecture
from upir.core.catalog import COMPONENT_TYPES, CONSTRAINT_KEYS
from upir.core.temporal import TemporalOperator
from upir.core.upir import UPIR
from upir.expr.ast import names

FloatArray = npt.NDArray[np.float64]

SYSTEM_TYPES = ("api", "streaming", "batch")

# What a predicate talks about, by the derived/parameter name it reads. The
# groups separate, e.g., a retry-budget spec (parameters, latency) from a
# backlog spec (queue length, drops) even when the graphs look alike.
_SUBJECTS: Mapping[str, str] = MappingProxyType(
    {
        "latency_ms": "latency",
        "attempt_ms": "latency",
        "wait_ms": "latency",
        "availability": "availability",
        "capacity_rps": "capacity",
        "utilization": "capacity",
        "throughput_rps": "capacity",
        "arrival_rps": "capacity",
        "batch_items": "backlog",
        "length": "backlog",
        "dropped": "backlog",
    }
)
SUBJECTS = ("latency", "availability", "capacity", "backlog", "parameter", "system")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature: ``kind`` says how the raw quantity was scaled (``log1p``,
    ``share`` or ``flag``), so explanations can print the raw value back;
    ``tolerance`` is in the scaled units; ``group`` names the aspect it measures."""

    name: str
    group: str
    kind: str
    tolerance: float
    description: str

    def raw(self, value: float) -> float:
        """The unscaled quantity (a count, a magnitude in its own unit, a share)."""
        return math.expm1(value) if self.kind == "log1p" else value


# Tolerances, in scaled units. log1p counts: 0.35 ~ one extra component on a
# three-component graph; spec counts 0.5. Shares: 0.15. Flags: 0.5 (a flip is two tolerances).
# Parameter magnitudes: 0.6 in log units ~ a factor of 1.8, so ordinary tuning
# (+-40 %) keeps an instance close to its pattern while 10x differences do not.
_COUNT_TOL = 0.35
# Specs vary more between instances of one design than architectures do (one
# property more or less), so their counts get a wider tolerance.
_SPEC_TOL = 0.5
_SHARE_TOL = 0.15
_FLAG_TOL = 0.5
_PARAM_TOL = 0.6


def _build_specs() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = [
        FeatureSpec("components", "types", "log1p", _COUNT_TOL, "number of components")
    ]
    for t in COMPONENT_TYPES:
        specs.append(
            FeatureSpec(f"count.{t}", "types", "log1p", _COUNT_TOL, f"number of {t} components")
        )
    for t in COMPONENT_TYPES:
        specs.append(
            FeatureSpec(f"share.{t}", "types", "share", _SHARE_TOL, f"share of {t} components")
        )
    specs += [
        FeatureSpec("connections", "graph", "log1p", _COUNT_TOL, "number of connections"),
        FeatureSpec("depth", "graph", "log1p", _COUNT_TOL, "components on the longest path"),
        FeatureSpec("max_fan_out", "graph", "log1p", _COUNT_TOL, "largest number of successors"),
        FeatureSpec("max_fan_in", "graph", "log1p", _COUNT_TOL, "largest number of predecessors"),
        FeatureSpec("entry_points", "graph", "log1p", _COUNT_TOL, "components nothing connects to"),
        FeatureSpec(
            "exit_points", "graph", "log1p", _COUNT_TOL, "components that connect to nothing"
        ),
        FeatureSpec(
            "branching", "graph", "share", _SHARE_TOL, "share of components with 2+ successors"
        ),
        FeatureSpec(
            "joining", "graph", "share", _SHARE_TOL, "share of components with 2+ predecessors"
        ),
        FeatureSpec("has_cycle", "graph", "flag", _FLAG_TOL, "the connections form a cycle"),
    ]
    for t, ctype in COMPONENT_TYPES.items():
        for p, pspec in ctype.params.items():
            specs.append(
                FeatureSpec(
                    f"param.{t}.{p}",
                    "params",
                    "log1p",
                    _PARAM_TOL,
                    f"mean {t} {p} ({pspec.unit}); the default without {t} components",
                )
            )
    for op in TemporalOperator:
        specs.append(
            FeatureSpec(
                f"op.{op.value}", "properties", "log1p", _SPEC_TOL, f"{op.value} properties"
            )
        )
    specs += [
        FeatureSpec("invariants", "properties", "log1p", _SPEC_TOL, "number of invariants"),
        FeatureSpec("assumptions", "properties", "log1p", _SPEC_TOL, "number of assumptions"),
    ]
    for s in SUBJECTS:
        specs.append(
            FeatureSpec(
                f"subject.{s}", "subjects", "log1p", _SPEC_TOL, f"predicate terms about {s}"
            )
        )
    for key in CONSTRAINT_KEYS:
        specs.append(
            FeatureSpec(
                f"constraint.{key}", "constraints", "flag", _FLAG_TOL, f"a {key} constraint"
            )
        )
    for st in SYSTEM_TYPES:
        specs.append(FeatureSpec(f"system.{st}", "system", "flag", _FLAG_TOL, f"system type {st}"))
    return tuple(specs)


FEATURES: tuple[FeatureSpec, ...] = _build_specs()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(FEATURE_NAMES)})
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FEATURES))
TOLERANCES: FloatArray = np.array([f.tolerance for f in FEATURES], dtype=np.float64)


def _presence(spec: FeatureSpec) -> int:
    # A parameter magnitude only means something where that component type is
    # present; every other feature is "present" where it is non-zero.
    if spec.group == "params":
        return FEATURE_INDEX[f"count.{spec.name.split('.')[1]}"]
    return FEATURE_INDEX[spec.name]


PRESENCE: npt.NDArray[np.intp] = np.array([_presence(f) for f in FEATURES], dtype=np.intp)
"""For feature ``i``, the feature whose non-zero value says feature ``i`` applies."""


# -- graph shape ----------------------------------------------------------------
def _components_sccs(arch: Architecture) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan), so depth is defined even
    for a graph with a cycle (the loader rejects cycles; hand-built ones may not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    succ = {n: arch.successors(n) for n in arch.names}
    for root in arch.names:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            nexts = succ[node]
            while i < len(nexts):
                nxt = nexts[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                scc: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    scc.append(top)
                    if top == node:
                        break
                out.append(scc)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def longest_path(arch: Architecture) -> int:
    """Components on the longest path (a cycle's members count once each)."""
    if not arch.components:
        return 0
    sccs = _components_sccs(arch)
    where = {n: i for i, scc in enumerate(sccs) for n in scc}
    # Tarjan emits SCCs in reverse topological order: successors first.
    best = [0] * len(sccs)
    for i, scc in enumerate(sccs):
        tail = 0
        for n in scc:
            for s in arch.successors(n):
                j = where[s]
                if j != i:
                    tail = max(tail, best[j])
        best[i] = len(scc) + tail
    return max(best)


def levels(arch: Architecture) -> dict[str, int]:
    """Longest distance (in connections) from any entry point to each component;
    members of a cycle share their cycle's level."""
    sccs = _components_sccs(arch)
    where = {n: i for i, scc in enumerate(sccs) for n in scc}
    level = [0] * len(sccs)
    for i in reversed(range(len(sccs))):  # reverse of reverse-topological: sources first
        for n in sccs[i]:
            for s in arch.successors(n):
                j = where[s]
                if j != i:
                    level[j] = max(level[j], level[i] + 1)
    return {n: level[where[n]] for n in arch.names}


# -- extraction -----------------------------------------------------------------
def feature_map(upir: UPIR) -> dict[str, float]:
    """The named features of ``upir`` (scaled values; see :data:`FEATURES`)."""
    arch = upir.architecture
    n = len(arch.components)
    out = dict.fromkeys(FEATURE_NAMES, 0.0)
    log = math.log1p

    out["components"] = log(n)
    for t in COMPONENT_TYPES:
        k = sum(1 for c in arch.components if c.type == t)
        out[f"count.{t}"] = log(k)
        out[f"share.{t}"] = k / n if n else 0.0

    fan_out = {name: len(set(arch.successors(name))) for name in arch.names}
    fan_in = {name: len(set(arch.predecessors(name))) for name in arch.names}
    out["connections"] = log(len({(c.source, c.target) for c in arch.connections}))
    out["depth"] = log(longest_path(arch))
    out["max_fan_out"] = log(max(fan_out.values(), default=0))
    out["max_fan_in"] = log(max(fan_in.values(), default=0))
    out["entry_points"] = log(sum(1 for v in fan_in.values() if v == 0))
    out["exit_points"] = log(sum(1 for v in fan_out.values() if v == 0))
    out["branching"] = sum(1 for v in fan_out.values() if v >= 2) / n if n else 0.0
    out["joining"] = sum(1 for v in fan_in.values() if v >= 2) / n if n else 0.0
    out["has_cycle"] = 1.0 if arch.find_cycle() else 0.0

    for t, ctype in COMPONENT_TYPES.items():
        members = [c for c in arch.components if c.type == t]
        for p, pspec in ctype.params.items():
            if members:
                vals = [log(max(float(c.value(p)), 0.0)) for c in members]
                out[f"param.{t}.{p}"] = sum(vals) / len(vals)
            else:
                # Without components of this type the catalogue default stands in:
                # absence is already measured by the type features, and a 0 here
                # would count it a second time (log1p(500) vs 0 is ten tolerances).
                out[f"param.{t}.{p}"] = log(max(float(pspec.default), 0.0))

    spec = upir.specification
    temporal = spec.invariants + spec.properties
    for op in TemporalOperator:
        out[f"op.{op.value}"] = log(sum(1 for p in temporal if p.operator is op))
    out["invariants"] = log(len(spec.invariants))
    out["assumptions"] = log(len(spec.assumptions))

    subjects = dict.fromkeys(SUBJECTS, 0)
    for prop in temporal:
        mentioned = set(names(prop.predicate))
        if prop.trigger is not None:
            mentioned |= names(prop.trigger)
        for name in mentioned:
            scope, _, attr = name.partition(".")
            if scope == "env":
                continue
            if scope == "system":
                subjects["system"] += 1
            elif attr in _SUBJECTS:
                subjects[_SUBJECTS[attr]] += 1
            else:
                subjects["parameter"] += 1
    for s, k in subjects.items():
        out[f"subject.{s}"] = log(k)

    present = {c.key for c in spec.constraints}
    for key in CONSTRAINT_KEYS:
        out[f"constraint.{key}"] = 1.0 if key in present else 0.0
    if upir.system_type in SYSTEM_TYPES:
        out[f"system.{upir.system_type}"] = 1.0
    return out


def extract_features(upir: UPIR) -> FloatArray:
    """The feature vector of ``upir``, ordered as :data:`FEATURE_NAMES`."""
    fmap = feature_map(upir)
    return np.array([fmap[n] for n in FEATURE_NAMES], dtype=np.float64)


def feature_matrix(upirs: Sequence[UPIR]) -> FloatArray:
    """One row per UPIR (shape ``(len(upirs), len(FEATURE_NAMES))``)."""
    out = np.zeros((len(upirs), len(FEATURE_NAMES)), dtype=np.float64)
    for i, u in enumerate(upirs):
        out[i] = extract_features(u)
    return out
