"""Component roles: grouping the components of several instances into the
positions of a pattern, and mapping a new UPIR's components onto a pattern's roles.

A role is identified by the component type and its place in the graph: its level
(longest distance from an entry point) and whether it has none, one or several
predecessors and successors. Components of one instance that share that key
(three subscribers of a fan-out) fill one role several times.
"""

from __future__ import annotations

import math
import os
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


def _role_name(names: Sequence[str]) -> str:
    """The common prefix of the fillers' names when it is a real word (instances
    often differ only by a suffix: ``api_3f2``, ``api_k9c``), else the most
    common name."""
    prefix = os.path.commonprefix(list(names)).rstrip("_-0123456789")
    if len(prefix) >= 2 and prefix[0].isalpha():
        return prefix
    counts = Counter(names)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def _split_param(members: Sequence[UPIR], fillers: Sequence[Sequence[Slot]]) -> str | None:
    """The parameter that best tells apart the fillers of one member (largest mean
    within-member spread of log1p values), or None when none does."""
    spreads: dict[str, list[float]] = {}
    for u, group in zip(members, fillers, strict=True):
        values: dict[str, list[float]] = {}
        for s in group:
            for p, v in u.architecture.component(s.component).effective_params().items():
                values.setdefault(p, []).append(math.log1p(max(float(v), 0.0)))
        for p, vs in values.items():
            spreads.setdefault(p, []).append(max(vs) - min(vs))
    best = max(spreads.items(), key=lambda kv: (sum(kv[1]) / len(kv[1]), kv[0]), default=None)
    if best is None or sum(best[1]) / len(best[1]) < _SPLIT_MIN_SPREAD:
        return None
    return best[0]


# Fillers of one position are told apart only when a parameter separates them by
# more than a factor of e on average (cache vs database timeouts); otherwise they
# are interchangeable replicas of one role (subscribers of a topic).
_SPLIT_MIN_SPREAD = 1.0


def _ranked(upir: UPIR, fillers: Sequence[Slot], param: str) -> list[Slot]:
    def key(s: Slot) -> tuple[Fraction, str]:
        return (upir.architecture.component(s.component).value(param), s.component)

    return sorted(fillers, key=key)


def group_roles(members: Sequence[UPIR]) -> RoleGrouping:
    """Roles shared by ``members``; a role's name comes from its fillers' names
    (made unique), its ranges are the parameter values seen.

    Components at the same position (type, level, fan-in/out) fill one role, with
    a count range, unless every member has the same number of them and a
    parameter tells them apart: then each rank by that parameter is its own role
    (an app calling a fast cache and a slow database has two roles, not one)."""
    member_slots = [slots(u) for u in members]
    by_key: dict[RoleKey, list[list[Slot]]] = {}
    for i, ms in enumerate(member_slots):
        for s in ms.values():
            by_key.setdefault(s.key, [[] for _ in members])[i].append(s)
    # Deterministic order: by level, then type, then the keys' remaining fields.
    ordered = sorted(by_key, key=lambda k: (k[1], k[0], k[2], k[3]))
    # role "groups": (key, per-member filler lists) after optional splitting
    groups: list[tuple[RoleKey, list[list[Slot]]]] = []
    for key in ordered:
        per_member = by_key[key]
        counts = {len(f) for f in per_member}
        param = _split_param(members, per_member) if len(counts) == 1 and min(counts) > 1 else None
        if param is None:
            groups.append((key, per_member))
            continue
        ranked = [_ranked(members[i], f, param) for i, f in enumerate(per_member)]
        for r in range(min(counts)):
            groups.append((key, [[f[r]] for f in ranked]))

    names_taken: set[str] = set()
    roles: list[Role] = []
    assignments: list[dict[str, str]] = [{} for _ in members]
    for key, per_member in groups:
        fillers = [(i, s) for i, f in enumerate(per_member) for s in f]
        base = _role_name([s.component for _, s in fillers])
        name, n = base, 2
        while name in names_taken:
            name, n = f"{base}_{n}", n + 1
        names_taken.add(name)
        params: dict[str, ParamRange] = {}
        for i, s in fillers:
            assignments[i][s.component] = name
            comp = members[i].architecture.component(s.component)
            for p, v in comp.effective_params().items():
                params[p] = params[p].widen(v) if p in params else ParamRange(v, v)
        member_counts = [len(f) for f in per_member]
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
    frozen = tuple(MappingProxyType(a) for a in assignments)
    edge_members: Counter[tuple[str, str]] = Counter()
    for u, assign in zip(members, frozen, strict=True):
        edges = {(assign[c.source], assign[c.target]) for c in u.architecture.connections}
        edge_members.update(edges)
    # An edge between roles belongs to the pattern when at least half the instances have it.
    half = len(members) / 2
    conns = tuple(sorted(e for e, k in edge_members.items() if k >= half))
    return RoleGrouping(tuple(roles), conns, frozen)


def _log(v: Fraction) -> float:
    return math.log1p(max(float(v), 0.0))


@dataclass(frozen=True, slots=True)
class RoleQuery:
    """What role assignment needs of one UPIR, computed once and reused against
    every pattern it is matched to: slots, and log1p parameter values."""

    slots: Mapping[str, Slot]
    logs: Mapping[str, Mapping[str, float]]

    @classmethod
    def of(cls, upir: UPIR) -> RoleQuery:
        logs = {
            c.name: {p: _log(v) for p, v in c.effective_params().items()}
            for c in upir.architecture.components
        }
        return cls(slots(upir), logs)


def _param_distance(values: Mapping[str, float], role: Role) -> float:
    """Mean log-distance of the parameters to the role's ranges (0 inside them)."""
    if not role.params:
        return 0.0
    total = 0.0
    for p, rng in role.params.items():
        v = values.get(p)
        if v is None:
            continue
        lo, hi = rng.log_min, rng.log_max
        if v < lo:
            total += lo - v
        elif v > hi:
            total += v - hi
    return total / len(role.params)


def assign_roles(upir: UPIR | RoleQuery, roles: Sequence[Role]) -> dict[str, str | None]:
    """The role each component of ``upir`` most plausibly fills: same type
    required, then nearest graph position, then nearest parameters. ``None``
    for a component whose type no role has. Pass a :class:`RoleQuery` to assign
    one UPIR against many patterns without recomputing its slots."""
    q = upir if isinstance(upir, RoleQuery) else RoleQuery.of(upir)
    out: dict[str, str | None] = {}
    for name, s in q.slots.items():
        values = q.logs[name]
        best: tuple[float, str] | None = None
        for r in roles:
            if r.type != s.type:
                continue
            cost = (
                abs(s.level - r.level)
                + 0.5 * abs(min(s.fan_in, 2) - min(r.fan_in, 2))
                + 0.5 * abs(min(s.fan_out, 2) - min(r.fan_out, 2))
            )
            if best is not None and cost >= best[0]:
                continue  # the parameter term only adds: this role cannot win
            cost += 0.25 * _param_distance(values, r)
            if best is None or cost < best[0]:
                best = (cost, r.name)
        out[name] = None if best is None else best[1]
    return out
