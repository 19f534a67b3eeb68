"""Components, connections and the architecture graph."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from upir.core.catalog import COMPONENT_TYPES
from upir.core.numbers import Number, to_fraction


@dataclass(frozen=True, slots=True)
class Component:
    """One component: its type (a key of ``COMPONENT_TYPES``) and its parameters as
    given in the resource (JSON numbers). ``value()`` fills catalogue defaults."""

    name: str
    type: str
    params: Mapping[str, Number] = field(default_factory=lambda: MappingProxyType({}))

    def value(self, param: str) -> Fraction:
        """Exact value of ``param``: the given one, else the type's default."""
        if param in self.params:
            return to_fraction(self.params[param])
        return COMPONENT_TYPES[self.type].params[param].default

    def effective_params(self) -> dict[str, Fraction]:
        """Every catalogue parameter (with defaults) plus any extra given ones."""
        out = {name: spec.default for name, spec in COMPONENT_TYPES[self.type].params.items()}
        out.update({k: to_fraction(v) for k, v in self.params.items()})
        return out


@dataclass(frozen=True, slots=True)
class Connection:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Architecture:
    components: tuple[Component, ...]
    connections: tuple[Connection, ...] = ()
    _index: Mapping[str, Component] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # frozen: the name index is derived once, at construction
        object.__setattr__(self, "_index", MappingProxyType({c.name: c for c in self.components}))

    def component(self, name: str) -> Component:
        return self._index[name]

    def has_component(self, name: str) -> bool:
        return name in self._index

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    def successors(self, name: str) -> tuple[str, ...]:
        return tuple(c.target for c in self.connections if c.source == name)

    def predecessors(self, name: str) -> tuple[str, ...]:
        return tuple(c.source for c in self.connections if c.target == name)

    def entry_points(self) -> tuple[str, ...]:
        """Components nothing connects to: where requests enter."""
        targets = {c.target for c in self.connections}
        return tuple(n for n in self.names if n not in targets)

    def find_cycle(self) -> tuple[str, ...] | None:
        """A cycle of component names if the connection graph has one."""
        colour: dict[str, int] = {}  # 0 absent/white, 1 on stack, 2 done
        for root in self.names:
            if colour.get(root):
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self.successors(root)))]
            path = [root]
            colour[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    colour[node] = 2
                    stack.pop()
                    path.pop()
                elif colour.get(nxt) == 1:
                    return tuple(path[path.index(nxt) :]) + (nxt,)
                elif not colour.get(nxt):
                    colour[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(self.successors(nxt))))
        return None

    def topological_order(self) -> tuple[str, ...]:
        """Components so that every connection goes forward (needs an acyclic graph)."""
        indegree = {n: 0 for n in self.names}
        for c in self.connections:
            indegree[c.target] += 1
        ready = [n for n in self.names if indegree[n] == 0]
        order: list[str] = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for succ in self.successors(node):
                indegree[succ] -= 1
                if indegree[succ] == 0:
                    ready.append(succ)
        if len(order) != len(self.names):
            raise ValueError("architecture has a cycle")
        return tuple(order)
