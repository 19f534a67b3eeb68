"""Matching: calibration (related high, unrelated low), explanations, speed path."""

from __future__ import annotations

import numpy as np
import pytest

from upir.core import UPIR
from upir.patterns import BUILTINS, PatternLibrary, extract_features
from upir.patterns.generate import family_instance, perturb, random_resource
from upir.patterns.matching import SimilarityIndex, stack


@pytest.fixture(scope="module")
def library() -> PatternLibrary:
    return PatternLibrary.builtin()


def test_reference_instances_match_their_own_pattern_first(library: PatternLibrary) -> None:
    for b in BUILTINS:
        matches = library.match(UPIR.from_resource(b.reference), top_k=3)
        assert matches[0].pattern.id == b.id
        assert matches[0].similarity == pytest.approx(1.0)
        assert [m.similarity for m in matches] == sorted(
            (m.similarity for m in matches), reverse=True
        )


def test_perturbed_variants_score_above_0_8_against_their_pattern(library: PatternLibrary) -> None:
    # renamed, reordered, every parameter scaled by up to x1.5 either way
    rng = np.random.default_rng(11)
    for b in BUILTINS:
        for _ in range(10):
            u = UPIR.from_resource(perturb(b.reference, rng, spread=0.5))
            sims = library.similarities(extract_features(u))
            assert sims[b.id] > 0.8, (b.id, sims[b.id])
            assert max(sims, key=lambda k: sims[k]) == b.id


def test_structural_family_variants_are_still_ranked_first(library: PatternLibrary) -> None:
    # more subscribers, pools, participants, hops; one property dropped at random
    rng = np.random.default_rng(12)
    for b in BUILTINS:
        for _ in range(6):
            u = UPIR.from_resource(family_instance(b, rng))
            assert library.match(u, top_k=1)[0].pattern.id == b.id


def test_unrelated_architectures_score_below_0_5_against_every_builtin(
    library: PatternLibrary,
) -> None:
    rng = np.random.default_rng(13)
    worst = 0.0
    for _ in range(300):
        u = UPIR.from_resource(random_resource(rng))
        worst = max(worst, max(library.similarities(extract_features(u)).values()))
    assert worst < 0.5


def test_a_lone_queue_matches_nothing(library: PatternLibrary) -> None:
    doc = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "lonely"},
        "spec": {"architecture": {"components": [{"name": "q", "type": "queue"}]}},
    }
    best = library.match(UPIR.from_resource(doc), top_k=1)[0]
    assert best.similarity < 0.5


def test_similarity_does_not_depend_on_the_rest_of_the_library(library: PatternLibrary) -> None:
    u = UPIR.from_resource(perturb(BUILTINS[0].reference, np.random.default_rng(1)))
    x = extract_features(u)
    full = library.similarities(x)
    alone = PatternLibrary([library.get(BUILTINS[0].id)]).similarities(x)
    assert alone[BUILTINS[0].id] == pytest.approx(full[BUILTINS[0].id])


def test_vectorised_scores_equal_one_pattern_at_a_time(library: PatternLibrary) -> None:
    patterns = list(library)
    index = SimilarityIndex(
        stack([p.vector for p in patterns]), stack([p.spread_vector for p in patterns])
    )
    x = extract_features(UPIR.from_resource(random_resource(np.random.default_rng(5))))
    together = index.similarities(x)
    for i, p in enumerate(patterns):
        single = SimilarityIndex(p.vector[None, :], p.spread_vector[None, :]).similarities(x)
        assert together[i] == pytest.approx(single[0])


def test_spread_widens_tolerance() -> None:
    lib = PatternLibrary.builtin()
    p = lib.get("request-response")
    x = p.vector.copy()
    x[3] += 1.0  # one feature off
    tight = SimilarityIndex(p.vector[None, :], p.spread_vector[None, :]).similarities(x)[0]
    loose_spread = p.spread_vector.copy()
    loose_spread[3] = 1.0
    loose = SimilarityIndex(p.vector[None, :], loose_spread[None, :]).similarities(x)[0]
    assert loose > tight


def test_explanation_names_what_agrees_and_differs(library: PatternLibrary) -> None:
    doc = BUILTINS[0].reference  # request-response
    doc["spec"]["architecture"]["components"][0]["params"]["retries"] = 9
    doc["spec"]["architecture"]["components"][1]["params"]["retries"] = 9
    m = library.match(UPIR.from_resource(doc), top_k=1)[0]
    assert m.pattern.id == "request-response"
    ex = m.explanation
    assert ex.differing and ex.differing[0].feature == "param.service.retries"
    assert ex.differing[0].value == pytest.approx(9)
    assert "count.service" in ex.agreeing
    assert ex.groups["types"] == pytest.approx(1.0) and ex.groups["params"] < 1.0
    assert ex.roles == {"api": "api", "backend": "backend"}
    assert "param.service.retries 9 vs" in ex.summary()
    as_json = m.to_dict()
    assert as_json["pattern"] == "request-response"
    assert as_json["explanation"]["differing"][0]["feature"] == "param.service.retries"


def test_top_k_edges(library: PatternLibrary) -> None:
    u = UPIR.from_resource(BUILTINS[1].reference)
    assert library.match(u, top_k=0) == []
    assert len(library.match(u, top_k=100)) == len(library)
    assert PatternLibrary().match(u) == []
    kept = library.match(u, top_k=10, min_similarity=0.9)
    assert [m.pattern.id for m in kept] == [BUILTINS[1].id]
