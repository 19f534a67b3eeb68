import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.core import UPIR, Evidence, ReasoningNode, TemporalOperator
from upir.errors import InvalidSpecError

ROOT = Path(__file__).resolve().parents[3]


def _doc(name: str = "api-service.yaml") -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return doc


@pytest.mark.parametrize("name", ["api-service.yaml", "streaming-pipeline.yaml", "batch-job.yaml"])
def test_resource_round_trip_is_lossless(name: str) -> None:
    doc = _doc(name)
    u = UPIR.from_resource(doc)
    assert u.to_resource() == doc
    # JSON round trip too
    assert UPIR.from_resource(json.loads(json.dumps(doc))).to_resource() == doc


def test_model_contents() -> None:
    u = UPIR.from_resource(_doc())
    assert u.name == "checkout" and u.system_type == "api"
    assert u.architecture.names == ("gateway", "orders", "fulfil")
    assert u.architecture.entry_points() == ("gateway",)
    props = {p.name: p for p in u.specification.all_properties()}
    assert props["fast"].operator is TemporalOperator.WITHIN and props["fast"].time_bound_ms == 1000
    assert props["no_loss"].kind == "invariant"
    assert props["constraint.availability"].kind == "constraint"
    assert u.tunable_values() == {
        "gateway.timeout_ms": 300,
        "gateway.retries": 2,
        "orders.capacity": 5000,
    }
    assert u.param_values()["fulfil.cost_per_replica"] == 1  # catalogue default
    assert [d.integer for d in u.parameters] == [False, True, True]


def test_spec_hash_ignores_key_order_and_formatting() -> None:
    doc = _doc()
    h = UPIR.from_resource(doc).spec_hash()
    reordered = json.loads(json.dumps(doc, sort_keys=True))
    spaced = copy.deepcopy(doc)
    spaced["spec"]["specification"]["properties"][1]["predicate"] = (
        "( gateway.timeout_ms*(gateway.retries+1) )<=2000"
    )
    spaced["spec"]["specification"]["assumptions"].reverse()
    assert UPIR.from_resource(reordered).spec_hash() == h
    assert UPIR.from_resource(spaced).spec_hash() == h
    changed = copy.deepcopy(doc)
    changed["spec"]["specification"]["properties"][1]["predicate"] = (
        "gateway.timeout_ms * (gateway.retries + 1) <= 2001"
    )
    assert UPIR.from_resource(changed).spec_hash() != h


def test_with_params_is_a_new_object_and_content_hash_follows() -> None:
    u = UPIR.from_resource(_doc())
    v = u.with_params({"gateway.timeout_ms": Fraction(410), "orders.capacity": 7000})
    assert v.tunable_values()["gateway.timeout_ms"] == 410
    assert u.tunable_values()["gateway.timeout_ms"] == 300
    assert v.content_hash() != u.content_hash()
    assert v.spec_hash() == u.spec_hash()
    raw = v.to_resource()["spec"]["architecture"]["components"][0]["params"]
    assert raw["timeout_ms"] == 410 and isinstance(raw["timeout_ms"], int)
    with pytest.raises(KeyError):
        u.with_params({"nope.x": 1})


def test_json_round_trip_keeps_evidence_and_reasoning() -> None:
    u = UPIR.from_resource(_doc())
    u.add_evidence(Evidence.with_confidence("bench", "load test", "benchmark", 0.8))
    u.add_reasoning(ReasoningNode("q", "put a queue before fulfil", evidence_ids=("bench",)))
    back = UPIR.from_json(u.to_json())
    assert back.to_resource() == u.to_resource()
    assert back.reasoning.evidence["bench"] == u.reasoning.evidence["bench"]
    assert back.compute_overall_confidence() == pytest.approx(u.compute_overall_confidence())


@pytest.mark.parametrize(
    ("mutate", "field", "needle"),
    [
        (
            lambda d: d["spec"]["architecture"]["connections"].append(
                {"from": "fulfil", "to": "gateway"}
            ),
            "spec.architecture.connections",
            "cycle",
        ),
        (
            lambda d: d["spec"]["specification"]["assumptions"].append("gateway.replicas >= 1"),
            "spec.specification.assumptions[5]",
            "env.*",
        ),
        (
            lambda d: d["spec"]["parameters"].append(
                {"name": "orders.latency_ms", "min": 1, "max": 2}
            ),
            "spec.parameters[3].name",
            "no tunable parameter",
        ),
        (
            lambda d: d["spec"]["parameters"].append(
                {"name": "gateway.retries", "min": 0.5, "max": 2}
            ),
            "spec.parameters[3]",
            "",
        ),
        (
            lambda d: d["spec"]["architecture"]["components"][0]["params"].update({"replicas": 0}),
            "spec.architecture.components[0].params.replicas",
            "must be >= 1",
        ),
        (
            lambda d: d["spec"]["specification"]["invariants"][0].update(
                {"operator": "EVENTUALLY"}
            ),
            "spec.specification.invariants[0].operator",
            "invariants must be ALWAYS",
        ),
        (
            lambda d: d["spec"]["specification"]["properties"][0].update(
                {"predicate": "system.wibble <= 3"}
            ),
            "spec.specification.properties[0].predicate",
            "unknown system quantity",
        ),
    ],
)
def test_semantic_errors_name_the_field(mutate: Any, field: str, needle: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(InvalidSpecError) as info:
        UPIR.from_resource(doc)
    fields = [i.field for i in info.value.issues]
    assert any(f.startswith(field) for f in fields), info.value.issues
    assert needle in str(info.value)
