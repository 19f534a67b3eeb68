"""Component roles: grouping the components of several instances into the
positions of a pattern, and mapping a new UPIR's components onto a pattern's roles.

A role is identified by the component type and its place in the graph: its level
(longest distance from an entry point) and whether it has none, one or several
predecessors and successors. Components of one instance that share that key
(three subscribers of a fan-out) fill one role several times.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import median
from types import MappingProxyType

from upir.core.upir import UPIR
from upir.patterns.features import levels
from upir.patterns.pattern import ParamRange, Role

RoleKey = tuple[str, int, int, int]
"""(type, level, predecessors capped at 2, successors capped at 2)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """Where one component sits in its own architecture."""

    component: str
    type: str
    level: int
    fan_in: int
    fan_out: int

    @property
    def key(self) -> RoleKey:
        return (self.type, self.level, min(self.fan_in, 2), min(self.fan_out, 2))


def slots(upir: UPIR) -> dict[str, Slot]:
    """The slot of every component of ``upir``, by component name."""
    arch = upir.architecture
    lvl = levels(arch)
    return {
        c.name: Slot(
            c.name,
            c.type,
            lvl[c.name],
            len(set(arch.predecessors(c.name))),
            len(set(arch.successors(c.name))),
        )
        for c in arch.components
    }


@dataclass(frozen=True, slots=True)
class RoleGrouping:
    """The roles of a group of instances, and for each instance which role each
    of its components fills (``assignments[i][component] -> role name``)."""

    roles: tuple[Role, ...]
    connections: tuple[tuple[str, str], ...]
    assignments: tuple[Mapping[str, str], ...]


def group_roles(members: Sequence[UPIR]) -> RoleGrouping:
    """Roles shared by ``members``; a role's name is the component name its
    fillers use most often (made unique), its ranges the parameter values seen."""
    member_slots = [slots(u) for u in members]
    by_key: dict[RoleKey, list[tuple[int, Slot]]] = {}
    for i, ms in enumerate(member_slots):
        for s in ms.values():
            by_key.setdefault(s.key, []).append((i, s))
    # Deterministic order: by level, then type, then the keys' remaining fields.
    ordered = sorted(by_key, key=lambda k: (k[1], k[0], k[2], k[3]))
    names_taken: set[str] = set()
    key_name: dict[RoleKey, str] = {}
    roles: list[Role] = []
    for key in ordered:
        fillers = by_key[key]
        counts = Counter(s.component for _, s in fillers)
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        name, n = best, 2
        while name in names_taken:
            name, n = f"{best}_{n}", n + 1
        names_taken.add(name)
        key_name[key] = name
        per_member = Counter(i for i, _ in fillers)
        member_counts = [per_member.get(i, 0) for i in range(len(members))]
        params: dict[str, ParamRange] = {}
        for i, s in fillers:
            comp = members[i].architecture.component(s.component)
            for p, v in comp.effective_params().items():
                params[p] = params[p].widen(v) if p in params else ParamRange(v, v)
        roles.append(
            Role(
                name=name,
                type=key[0],
                level=key[1],
                fan_in=int(median(s.fan_in for _, s in fillers)),
                fan_out=int(median(s.fan_out for _, s in fillers)),
                min_count=min(member_counts),
                max_count=max(member_counts),
                params=MappingProxyType(params),
            )
        )
    assignments = tuple(
        MappingProxyType({c: key_name[s.key] for c, s in ms.items()}) for ms in member_slots
    )
    edge_members: Counter[tuple[str, str]] = Counter()
    for u, assign in zip(members, assignments, strict=True):
        edges = {(assign[c.source], assign[c.target]) for c in u.architecture.connections}
        edge_members.update(edges)
    # An edge between roles belongs to the pattern when at least half the instances have it.
    half = len(members) / 2
    conns = tuple(sorted(e for e, k in edge_members.items() if k >= half))
    return RoleGrouping(tuple(roles), conns, assignments)


def _param_distance(values: Mapping[str, Fraction], role: Role) -> float:
    """Mean log-distance of the parameters to the role's ranges (0 inside them)."""
    if not role.params:
        return 0.0
    total = 0.0
    for p, rng in role.params.items():
        if p not in values:
            continue
        v = float(values[p])
        lo, hi = float(rng.min), float(rng.max)
        if v < lo:
            total += math.log1p(lo) - math.log1p(v)
        elif v > hi:
            total += math.log1p(v) - math.log1p(hi)
    return total / len(role.params)


def assign_roles(upir: UPIR, roles: Sequence[Role]) -> dict[str, str | None]:
    """The role each component of ``upir`` most plausibly fills: same type
    required, then nearest graph position, then nearest parameters. ``None``
    for a component whose type no role has."""
    out: dict[str, str | None] = {}
    for name, s in slots(upir).items():
        comp = upir.architecture.component(name)
        values = comp.effective_params()
        best: tuple[float, str] | None = None
        for r in roles:
            if r.type != s.type:
                continue
            cost = (
                abs(s.level - r.level)
                + 0.5 * abs(min(s.fan_in, 2) - min(r.fan_in, 2))
                + 0.5 * abs(min(s.fan_out, 2) - min(r.fan_out, 2))
                + 0.25 * _param_distance(values, r)
            )
            if best is None or cost < best[0]:
                best = (cost, r.name)
        out[name] = None if best is None else best[1]
    return out
