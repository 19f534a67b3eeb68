import math

import pytest

from upir.core.evidence import Evidence, ReasoningGraph, ReasoningNode


def test_beta_update_moves_confidence_both_ways() -> None:
    ev = Evidence("e1", "bench", "benchmark")  # Beta(1, 1): mean 0.5
    assert ev.confidence == pytest.approx(0.5)
    up = ev.update_confidence(True)  # Beta(2, 1): 2/3
    assert up.confidence == pytest.approx(2 / 3)
    down = up.update_confidence(False, weight=2.0)  # Beta(2, 3): 0.4
    assert down.confidence == pytest.approx(0.4)
    assert ev.confidence == pytest.approx(0.5)  # immutable


def test_with_confidence_prior_and_validation() -> None:
    ev = Evidence.with_confidence("e", "s", "test", 0.8, strength=10)
    assert (ev.alpha, ev.beta) == pytest.approx((8.0, 2.0))
    with pytest.raises(ValueError):
        Evidence.with_confidence("e", "s", "test", 1.0)
    with pytest.raises(ValueError):
        Evidence("e", "s", "rumour")


def test_geometric_mean_confidence() -> None:
    g = ReasoningGraph()
    g.add_evidence(Evidence.with_confidence("a", "s", "test", 0.9))
    g.add_evidence(Evidence.with_confidence("b", "s", "benchmark", 0.4))
    node = ReasoningNode("n", "use a queue", evidence_ids=("a", "b"))
    g.add_node(node)
    assert node.compute_confidence(g.evidence) == pytest.approx(math.sqrt(0.9 * 0.4))
    assert g.confidence("n") == pytest.approx(0.6)
    assert ReasoningNode("x", "no evidence").compute_confidence(g.evidence) == 0.0


def test_parents_multiply_and_cycles_are_refused() -> None:
    g = ReasoningGraph()
    g.add_evidence(Evidence.with_confidence("a", "s", "test", 0.5))
    g.add_node(ReasoningNode("root", "r", evidence_ids=("a",)))
    g.add_node(ReasoningNode("child", "c", evidence_ids=("a",), parent_ids=("root",)))
    assert g.confidence("child") == pytest.approx(0.25)
    assert g.overall_confidence() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="cycle"):
        g.add_node(ReasoningNode("root", "r2", evidence_ids=("a",), parent_ids=("child",)))
    with pytest.raises(ValueError, match="unknown parents"):
        g.add_node(ReasoningNode("z", "z", parent_ids=("ghost",)))
    with pytest.raises(ValueError, match="unknown evidence"):
        g.add_node(ReasoningNode("z", "z", evidence_ids=("ghost",)))


def test_evidence_dict_round_trip() -> None:
    ev = Evidence.with_confidence("a", "s", "formal_proof", 0.7, data={"k": 1})
    assert Evidence.from_dict(ev.to_dict()) == ev
    node = ReasoningNode("n", "d", "why", ("a",), (), ("other",))
    assert ReasoningNode.from_dict(node.to_dict()) == node
