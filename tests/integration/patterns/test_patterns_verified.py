"""Built-in patterns against the real verifier (Z3), and pattern-based proof reuse."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from upir.core import UPIR
from upir.patterns import BUILTINS, PatternLibrary
from upir.patterns.generate import corpus, perturb
from upir.patterns.reuse import REUSE_METHOD, ProofReuse, canonical_mapping, proof_keys
from upir.settings import SolverSettings
from upir.verification import ProofCache, Verdict, Verifier

pytestmark = pytest.mark.integration

SETTINGS = SolverSettings(timeout_ms=5000)


@pytest.mark.parametrize("builtin", BUILTINS, ids=lambda b: b.id)
def test_every_property_template_is_proved_for_the_reference_instance(builtin: object) -> None:
    from upir.patterns.builtin import BuiltinPattern

    assert isinstance(builtin, BuiltinPattern)
    report = Verifier(SETTINGS).verify(UPIR.from_resource(builtin.reference))
    assert report.results, builtin.id
    assert not report.warnings
    bad = [(r.property.name, r.status.value, r.message) for r in report.results if not r.passed]
    assert not bad, bad
    # the pattern's templates are those properties over role names (fillers of
    # one role stating the same thing, like two identical pools, share one)
    pattern = PatternLibrary.builtin().get(builtin.id)
    names = {r.property.name for r in report.results}
    assert pattern.properties and {t.name for t in pattern.properties} <= names


def test_structural_variants_of_each_family_verify_too() -> None:
    verifier = Verifier(SETTINGS)
    for b in BUILTINS:
        ranges = [range(lo, hi + 1) for lo, hi in b.knobs.values()]
        for combo in itertools.product(*ranges):
            knobs = dict(zip(b.knobs, combo, strict=True))
            report = verifier.verify(UPIR.from_resource(b.build(**knobs)))
            assert report.passed, (b.id, knobs, [r.property.name for r in report.failures()])


@pytest.fixture()
def reuse() -> ProofReuse:
    library = PatternLibrary.builtin()
    engine = ProofReuse(Verifier(SETTINGS, ProofCache(10_000)), library)
    for b in BUILTINS:
        ref = UPIR.from_resource(b.reference)
        proved = engine.seed_pattern(b.id, ref)
        assert proved == len(ref.specification.all_properties())
        assert 0 < len(library.get(b.id).proofs) <= proved
        assert library.get(b.id).success.successes == 1
    return engine


def test_renamed_instances_reuse_every_proof(reuse: ProofReuse) -> None:
    rng = np.random.default_rng(0)
    for b in BUILTINS:
        # same parameters, new names and component order
        u = UPIR.from_resource(perturb(b.reference, rng, spread=0.0))
        out = reuse.verify(u)
        assert out.pattern_id == b.id and out.similarity > 0.99
        assert out.reused == out.reusable == out.total == len(u.specification.all_properties())
        assert out.rate == 1.0
        assert all(r.cached and r.method == REUSE_METHOD for r in out.report.results)
        assert out.report.passed


def test_reuse_never_changes_a_verdict(reuse: ProofReuse) -> None:
    # 1-2-5 snapped parameters: cones often coincide, sometimes not, and some
    # instances violate their properties. Every verdict must equal a fresh
    # verifier's without any cache.
    fresh = Verifier(SETTINGS)
    reused_total = 0
    for _, doc in corpus(30, seed=4, snap=True):
        u = UPIR.from_resource(doc)
        out = reuse.verify(u)
        reused_total += out.reused
        plain = fresh.verify(u)
        assert [r.status for r in out.report.results] == [r.status for r in plain.results]
        for r in out.report.results:
            if r.method == REUSE_METHOD:
                assert r.status is Verdict.PROVED and r.cached
    assert reused_total > 0  # the scenario does exercise reuse


def test_a_changed_parameter_in_the_cone_is_not_reused(reuse: ProofReuse) -> None:
    # renamed, so the only way to a cached verdict is through the pattern
    doc = perturb(BUILTINS[-1].reference, np.random.default_rng(2), spread=0.0)  # cache-aside
    comps = doc["spec"]["architecture"]["components"]
    cache = next(c for c in comps if c["name"].startswith("cache_"))
    cache["params"]["timeout_ms"] = 9
    out = reuse.verify(UPIR.from_resource(doc))
    by_name = {r.property.name: r for r in out.report.results}
    # cache_fast and cache_cheap read the cache's parameters: verified afresh
    for name in ("cache_fast", "cache_cheap"):
        assert by_name[name].method != REUSE_METHOD and not by_name[name].cached
        assert by_name[name].passed
    # database_bounded's cone (the database alone) is unchanged: reused
    assert by_name["database_bounded"].method == REUSE_METHOD and by_name["database_bounded"].cached
    assert out.reused == 1 and out.total == 4


def test_canonical_keys_ignore_names_but_not_values() -> None:
    lib = PatternLibrary.builtin()
    p = lib.get("bulkhead")
    ref = UPIR.from_resource(BUILTINS[8].reference)
    renamed = UPIR.from_resource(
        perturb(BUILTINS[8].reference, np.random.default_rng(1), spread=0.0)
    )
    from upir.patterns.reuse import canonicalize

    a = proof_keys(canonicalize(ref, p), SETTINGS)
    b = proof_keys(canonicalize(renamed, p), SETTINGS)
    assert a == b
    assert proof_keys(ref, SETTINGS) != proof_keys(renamed, SETTINGS)
    names = set(canonical_mapping(renamed, p).values())
    assert len(names) == len(renamed.architecture.components)
    other = SolverSettings(bmc_steps=SETTINGS.bmc_steps + 1)
    assert proof_keys(canonicalize(ref, p), other) != a  # solver settings are part of the key


def test_reuse_requires_a_cache() -> None:
    with pytest.raises(ValueError):
        ProofReuse(Verifier(SETTINGS), PatternLibrary.builtin())


def test_unmatched_architectures_are_verified_plainly(reuse: ProofReuse) -> None:
    doc = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "odd"},
        "spec": {
            "architecture": {
                "components": [{"name": "q", "type": "queue", "params": {"capacity": 7}}]
            },
            "specification": {
                "assumptions": ["env.arrival_rps <= 1", "env.q_drain_rps >= 5"],
                "invariants": [
                    {"name": "empty", "operator": "ALWAYS", "predicate": "q.dropped == 0"}
                ],
            },
        },
    }
    out = reuse.verify(UPIR.from_resource(doc))
    assert out.pattern_id is None and out.reused == 0 and out.similarity < 0.5
    assert out.report.passed


def test_discovered_patterns_count_what_their_members_proved() -> None:
    from upir.patterns import PatternExtractor
    from upir.patterns.reuse import observe

    verifier = Verifier(SETTINGS)
    docs = corpus(30, seed=6)
    obs = [observe(u, verifier.verify(u)) for u in (UPIR.from_resource(d) for _, d in docs)]
    result = PatternExtractor(seed=0).discover(obs)
    assert result.patterns
    for p in result.patterns:
        for t in p.properties:
            assert t.checked == t.seen and 0 <= t.proved <= t.checked
        assert p.proved_properties()  # every family has properties proved on all members
    proved = sum(t.proved for p in result.patterns for t in p.properties)
    verdicts = sum(1 for o in obs for v in (o.verdicts or {}).values() if v == "PROVED")
    assert 0 < proved <= verdicts
