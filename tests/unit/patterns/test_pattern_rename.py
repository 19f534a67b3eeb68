"""Renaming components everywhere: documents and models agree, nothing is missed."""

from __future__ import annotations

import re

import numpy as np

from upir.core import UPIR
from upir.patterns import BUILTINS
from upir.patterns.generate import corpus, perturb, snap_125
from upir.patterns.rename import name_renamer, rename_components, rename_upir


def test_document_and_model_renaming_agree() -> None:
    for _, doc in corpus(30, seed=2):
        u = UPIR.from_resource(doc)
        mapping = {c.name: f"n{i}" for i, c in enumerate(u.architecture.components)}
        via_doc = UPIR.from_resource(rename_components(doc, mapping))
        via_model = rename_upir(u, mapping)
        assert via_model.architecture == via_doc.architecture
        assert via_model.specification == via_doc.specification
        assert via_model.parameters == via_doc.parameters
        assert via_model.param_values() == via_doc.param_values()


def test_every_mention_is_renamed() -> None:
    doc = BUILTINS[0].reference  # request-response
    out = rename_components(doc, {"api": "front", "backend": "back"})
    text = repr(out)
    for old in ("api", "backend"):
        assert re.search(rf"\b{old}\.|env\.{old}_", text) is None, old
    arch = out["spec"]["architecture"]
    assert [c["name"] for c in arch["components"]] == ["front", "back"]
    assert arch["connections"] == [{"from": "front", "to": "back"}]
    spec = out["spec"]["specification"]
    assert "env.front_service_ms" in " ".join(spec["assumptions"])
    assert "env.back_failure_rate" in " ".join(spec["assumptions"])
    assert spec["invariants"][0]["predicate"] == "front.timeout_ms * (front.retries + 1) <= 1000"
    assert {d["name"].split(".")[0] for d in out["spec"]["parameters"]} == {"front", "back"}
    assert doc["spec"]["architecture"]["components"][0]["name"] == "api"  # input untouched


def test_renamer_only_touches_exact_names() -> None:
    fn = name_renamer({"a": "x"})
    assert fn("a.latency_ms") == "x.latency_ms"
    assert fn("env.a_service_ms") == "env.x_service_ms"
    assert fn("env.a_drain_rps") == "env.x_drain_rps"
    assert fn("env.ab_service_ms") == "env.ab_service_ms"
    assert fn("env.a_b_service_ms") == "env.a_b_service_ms"
    assert fn("ab.latency_ms") == "ab.latency_ms"
    assert fn("system.cost") == "system.cost"
    assert fn("env.arrival_rps") == "env.arrival_rps"


def test_perturb_keeps_documents_valid_and_snaps_to_round_values() -> None:
    rng = np.random.default_rng(3)
    for b in BUILTINS:
        doc = perturb(b.reference, rng, spread=0.5, snap=True)
        u = UPIR.from_resource(doc)  # still valid: bounds and domains respected
        for c in u.architecture.components:
            for v in c.params.values():
                assert v == snap_125(v)
    assert [snap_125(x) for x in (0.2, 1.4, 1.5, 3, 3.3, 7, 360, 1234)] == [
        0,
        1,
        2,
        2,
        5,
        5,
        500,
        1000,
    ]
