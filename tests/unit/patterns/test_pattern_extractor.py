"""PatternExtractor: clustering (injected or by name), k by silhouette, patterns
built from clusters (roles, ranges, property templates with verdict counts)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, homogeneity_score

from upir.core import UPIR
from upir.patterns import BUILTIN_IDS, Observation, PatternExtractor, PatternLibrary
from upir.patterns.builtin import BUILTIN_BY_ID, cache_aside, pubsub_fanout
from upir.patterns.features import feature_matrix
from upir.patterns.generate import corpus, family_instance
from upir.patterns.roles import assign_roles, group_roles


@pytest.fixture(scope="module")
def small_corpus() -> tuple[list[UPIR], list[str]]:
    docs = corpus(80, seed=21)
    return [UPIR.from_resource(d) for _, d in docs], [f for f, _ in docs]


@pytest.mark.parametrize("clusterer", [None, "kmeans", "agglomerative"])
def test_discovery_recovers_known_families(
    small_corpus: tuple[list[UPIR], list[str]], clusterer: str | None
) -> None:
    upirs, families = small_corpus
    result = PatternExtractor(clusterer, seed=0).discover(upirs)
    labels = result.clustering.labels
    # With 8 instances a family, structural variants may form clusters of their
    # own (k above 10), but no cluster ever mixes two families.
    assert len(BUILTIN_IDS) <= result.clustering.k <= 15
    assert homogeneity_score(families, labels) == pytest.approx(1.0)
    assert adjusted_rand_score(families, labels) > 0.85
    assert sum(p.members for p in result.patterns) + len(result.outliers) == len(upirs)
    assert result.clustering.silhouettes  # k was searched


def test_dbscan_by_name_runs_and_marks_noise_or_clusters(
    small_corpus: tuple[list[UPIR], list[str]],
) -> None:
    upirs, families = small_corpus
    result = PatternExtractor("dbscan", seed=0).discover(upirs)
    assert result.clustering.k >= 2
    assert homogeneity_score(families, result.clustering.labels) > 0.95
    assert sum(p.members for p in result.patterns) + len(result.outliers) == len(upirs)


def test_injected_clusterers_are_used(small_corpus: tuple[list[UPIR], list[str]]) -> None:
    upirs, families = small_corpus
    x = feature_matrix(upirs)
    fixed = PatternExtractor(KMeans(n_clusters=4, n_init=2, random_state=0), seed=0, n_clusters=4)
    assert fixed.cluster(x).k == 4
    searched = PatternExtractor(AgglomerativeClustering(linkage="average"), seed=0)
    got = searched.cluster(x)
    assert set(got.silhouettes) == set(range(2, 16))
    assert adjusted_rand_score(families, got.labels) > 0.8

    class Halves:
        """A clusterer without n_clusters: used as given."""

        def fit_predict(self, X: np.ndarray, y: object = None) -> np.ndarray:
            return (np.arange(len(X)) >= len(X) // 2).astype(np.int64)

    halves = PatternExtractor(Halves(), seed=0).cluster(x)
    assert halves.k == 2 and not halves.silhouettes


def test_same_seed_same_patterns(small_corpus: tuple[list[UPIR], list[str]]) -> None:
    upirs, _ = small_corpus
    a = PatternExtractor(seed=5).discover(upirs)
    b = PatternExtractor(seed=5).discover(upirs)
    assert [p.to_dict() for p in a.patterns] == [p.to_dict() for p in b.patterns]


def test_degenerate_corpora() -> None:
    ex = PatternExtractor(seed=0)
    assert ex.cluster(feature_matrix([])).k == 0
    one = UPIR.from_resource(cache_aside())
    res = ex.discover([one])
    assert res.clustering.k == 1 and res.outliers == (0,)  # a cluster of one is too small
    twins = ex.discover([one, one, one])
    assert len(twins.patterns) == 1 and twins.patterns[0].members == 3
    with pytest.raises(ValueError):
        PatternExtractor("spectral", seed=0)
    with pytest.raises(ValueError):
        ex.extract_pattern([])


def test_pattern_from_cluster_has_roles_ranges_and_verified_templates() -> None:
    rng = np.random.default_rng(3)
    fam = BUILTIN_BY_ID["two-phase-commit"]
    members = [UPIR.from_resource(family_instance(fam, rng, drop_property=0.0)) for _ in range(6)]
    verdicts = []
    for i, u in enumerate(members):
        v = {p.name: "PROVED" for p in u.specification.all_properties()}
        if i == 0:
            v["decides"] = "VIOLATED"
        verdicts.append(v)
    obs = [Observation(u, v) for u, v in zip(members, verdicts, strict=True)]
    obs.append(Observation(UPIR.from_resource(family_instance(fam, rng, drop_property=0.0))))
    p = PatternExtractor(seed=0).extract_pattern(obs)
    assert p.members == 7 and p.source == "discovered" and p.id.startswith("discovered-")
    assert len(p.roles) == 2  # the coordinator and the (2 to 5) participants
    participants = next(r for r in p.roles if r.type == "service" and r.level == 1)
    assert participants.min_count >= 2 and participants.max_count <= 5
    coord = next(r for r in p.roles if r.level == 0)
    lo, hi = coord.params["timeout_ms"].min, coord.params["timeout_ms"].max
    assert lo <= Fraction(2000) * Fraction(13, 10) and lo < hi
    decides = next(t for t in p.properties if t.name == "decides")
    assert (decides.seen, decides.checked, decides.proved) == (7, 6, 5)
    assert decides not in p.proved_properties()
    assert coord.name in decides.predicate  # stated over role names, not component names
    assert not p.proofs  # proof keys come from ProofReuse, not from clustering
    assert (coord.name, participants.name) in p.connections


def test_roles_split_distinguishable_fillers_and_merge_interchangeable_ones() -> None:
    rng = np.random.default_rng(4)
    caches = [
        UPIR.from_resource(family_instance(BUILTIN_BY_ID["cache-aside"], rng)) for _ in range(5)
    ]
    g = group_roles(caches)
    assert [r.name for r in g.roles] == ["app", "cache", "database"]
    for assign in g.assignments:
        for comp, role in assign.items():
            assert comp.startswith(role)
    subs = [UPIR.from_resource(pubsub_fanout(subscribers=n)) for n in (2, 3, 5)]
    g2 = group_roles(subs)
    sub_role = next(r for r in g2.roles if r.type == "service" and r.level == 2)
    assert (sub_role.min_count, sub_role.max_count) == (2, 5)


def test_assign_roles_maps_renamed_components_of_a_match() -> None:
    lib = PatternLibrary.builtin()
    u = UPIR.from_resource(family_instance(BUILTIN_BY_ID["bulkhead"], np.random.default_rng(8)))
    roles = assign_roles(u, lib.get("bulkhead").roles)
    for comp, role in roles.items():
        assert role is not None and comp.startswith(role.rstrip("_0123456789")[:4])
    lone = UPIR.from_resource(
        {
            "apiVersion": "upir.dev/v1alpha1",
            "kind": "UPIR",
            "metadata": {"name": "b"},
            "spec": {"architecture": {"components": [{"name": "b", "type": "batcher"}]}},
        }
    )
    assert assign_roles(lone, lib.get("bulkhead").roles) == {"b": None}
