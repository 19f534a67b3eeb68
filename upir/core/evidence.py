"""Evidence behind architectural decisions, and the reasoning graph over them.

Confidence in a piece of evidence is the mean of a Beta(alpha, beta) posterior
over "this evidence is right": each confirming observation adds ``weight`` to
alpha, each contradicting one adds it to beta. A reasoning node's confidence is
the geometric mean of its evidence's confidences (one weak link pulls it down
more than an arithmetic mean would), times its parents' confidences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

EVIDENCE_TYPES = frozenset({"benchmark", "test", "production", "formal_proof", "simulation"})


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation source. ``alpha``/``beta`` are Beta pseudo-counts."""

    id: str
    source: str
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = 1.0
    beta: float = 1.0
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.type not in EVIDENCE_TYPES:
            raise ValueError(f"evidence type must be one of {sorted(EVIDENCE_TYPES)}")
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError("alpha and beta must be positive")

    @classmethod
    def with_confidence(
        cls, id: str, source: str, type: str, confidence: float, strength: float = 2.0, **kw: Any
    ) -> Evidence:
        """Evidence whose prior mean is ``confidence`` with ``strength`` pseudo-observations."""
        if not 0.0 < confidence < 1.0:
            raise ValueError("confidence must lie strictly between 0 and 1")
        return cls(
            id, source, type, alpha=confidence * strength, beta=(1 - confidence) * strength, **kw
        )

    @property
    def confidence(self) -> float:
        """Posterior mean, in (0, 1)."""
        return self.alpha / (self.alpha + self.beta)

    def update_confidence(self, observation: bool, weight: float = 1.0) -> Evidence:
        """Bayesian update with one observation; returns the updated evidence."""
        if weight <= 0:
            raise ValueError("weight must be positive")
        if observation:
            return replace(self, alpha=self.alpha + weight)
        return replace(self, beta=self.beta + weight)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "data": dict(self.data),
            "alpha": self.alpha,
            "beta": self.beta,
            "timestamp": self.timestamp.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(
            id=str(d["id"]),
            source=str(d["source"]),
            type=str(d["type"]),
            data=dict(d.get("data", {})),
            alpha=float(d["alpha"]),
            beta=float(d["beta"]),
            timestamp=datetime.fromisoformat(str(d["timestamp"])),
        )


@dataclass(frozen=True, slots=True)
class ReasoningNode:
    """A decision, the evidence for it, and the decisions it builds on."""

    id: str
    decision: str
    rationale: str = ""
    evidence_ids: tuple[str, ...] = ()
    parent_ids: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()

    def compute_confidence(self, evidence: Mapping[str, Evidence]) -> float:
        """Geometric mean of the evidence confidences (0.0 with no evidence:
        an unsupported decision earns no confidence)."""
        confidences = [evidence[e].confidence for e in self.evidence_ids]
        if not confidences:
            return 0.0
        return math.exp(sum(math.log(c) for c in confidences) / len(confidences))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "rationale": self.rationale,
            "evidenceIds": list(self.evidence_ids),
            "parentIds": list(self.parent_ids),
            "alternatives": list(self.alternatives),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReasoningNode:
        return cls(
            id=str(d["id"]),
            decision=str(d["decision"]),
            rationale=str(d.get("rationale", "")),
            evidence_ids=tuple(str(x) for x in d.get("evidenceIds", ())),
            parent_ids=tuple(str(x) for x in d.get("parentIds", ())),
            alternatives=tuple(str(x) for x in d.get("alternatives", ())),
        )


class ReasoningGraph:
    """A DAG of reasoning nodes over a set of evidence. Adding a node whose
    parents or evidence are unknown, or that would close a cycle, is refused."""

    def __init__(self) -> None:
        self._evidence: dict[str, Evidence] = {}
        self._nodes: dict[str, ReasoningNode] = {}

    @property
    def evidence(self) -> Mapping[str, Evidence]:
        return dict(self._evidence)

    @property
    def nodes(self) -> Mapping[str, ReasoningNode]:
        return dict(self._nodes)

    def add_evidence(self, ev: Evidence) -> str:
        self._evidence[ev.id] = ev
        return ev.id

    def observe(self, evidence_id: str, observation: bool, weight: float = 1.0) -> Evidence:
        updated = self._evidence[evidence_id].update_confidence(observation, weight)
        self._evidence[evidence_id] = updated
        return updated

    def add_node(self, node: ReasoningNode) -> str:
        missing_ev = [e for e in node.evidence_ids if e not in self._evidence]
        if missing_ev:
            raise ValueError(f"reasoning node {node.id!r} cites unknown evidence {missing_ev}")
        missing_parents = [p for p in node.parent_ids if p not in self._nodes and p != node.id]
        if missing_parents:
            raise ValueError(f"reasoning node {node.id!r} has unknown parents {missing_parents}")
        if self._reaches(node.parent_ids, node.id):
            raise ValueError(f"adding reasoning node {node.id!r} would create a cycle")
        self._nodes[node.id] = node
        return node.id

    def _reaches(self, starts: tuple[str, ...], target: str) -> bool:
        seen: set[str] = set()
        stack = list(starts)
        while stack:
            current = stack.pop()
            if current == target:
                return True
            if current in seen or current not in self._nodes:
                continue
            seen.add(current)
            stack.extend(self._nodes[current].parent_ids)
        return False

    def confidence(self, node_id: str) -> float:
        """A node's own confidence times that of every ancestor chain (a decision
        is no surer than what it builds on)."""
        memo: dict[str, float] = {}

        def conf(nid: str) -> float:
            if nid not in memo:
                node = self._nodes[nid]
                own = node.compute_confidence(self._evidence)
                memo[nid] = own * math.prod(conf(p) for p in node.parent_ids)
            return memo[nid]

        return conf(node_id)

    def overall_confidence(self) -> float:
        """Geometric mean over the leaves (decisions nothing builds on); 0 if empty."""
        parents = {p for n in self._nodes.values() for p in n.parent_ids}
        leaves = [n for n in self._nodes if n not in parents]
        if not leaves:
            return 0.0
        values = [self.confidence(n) for n in leaves]
        if any(v <= 0 for v in values):
            return 0.0
        return math.exp(sum(math.log(v) for v in values) / len(values))
