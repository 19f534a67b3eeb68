"""Pattern discovery: cluster a corpus of UPIRs by their features and turn each
cluster into a parameterised :class:`Pattern`.

The clusterer is injectable: any object with scikit-learn's ``fit_predict``
(``KMeans``, ``DBSCAN``, ``AgglomerativeClustering``, ...) or one of the names
``"kmeans"`` (the default), ``"dbscan"``, ``"agglomerative"``. Features are
standardized (zero mean, unit variance over the corpus) before clustering. When
the number of clusters is not given and the clusterer takes one, it is chosen by
the silhouette score over ``2..max_clusters``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from upir.core.upir import UPIR
from upir.expr.printer import to_source
from upir.patterns.features import FEATURE_NAMES, FloatArray, extract_features, feature_matrix
from upir.patterns.pattern import Pattern, PropertyTemplate, rename
from upir.patterns.roles import group_roles

IntArray = npt.NDArray[np.int64]

CLUSTERER_NAMES = ("kmeans", "dbscan", "agglomerative")

PROVED = "PROVED"


class Clusterer(Protocol):
    """What the extractor needs of a clusterer (scikit-learn's ``ClusterMixin``)."""

    def fit_predict(self, X: Any, y: Any = None) -> Any: ...


@dataclass(frozen=True)
class Observation:
    """One corpus member: the UPIR and, when it was verified, its verdicts by
    property name (``"PROVED"``, ``"VIOLATED"``, ...)."""

    upir: UPIR
    verdicts: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Clustering:
    """``labels[i]`` is the cluster of corpus member ``i`` (``-1``: noise, only
    from density-based clusterers); ``silhouettes`` maps each k tried to its score."""

    labels: IntArray
    k: int
    silhouette: float | None
    silhouettes: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def noise(self) -> int:
        return int(np.sum(self.labels < 0))


def _silhouette(x: FloatArray, labels: IntArray) -> float | None:
    kept = labels >= 0
    distinct = len(set(labels[kept].tolist()))
    if distinct < 2 or distinct >= int(kept.sum()):
        return None
    return float(silhouette_score(x[kept], labels[kept]))


class PatternExtractor:
    """Discovers patterns in a corpus.

    ``seed`` fixes every random choice (KMeans initialisation), so the same corpus
    gives the same patterns. ``n_clusters`` fixes k; otherwise k is chosen by
    silhouette in ``2..max_clusters``: the smallest k scoring within
    ``silhouette_slack`` of the best. Clusters smaller than ``min_cluster_size``
    are left out as outliers. ``threads`` caps OpenMP/BLAS threads while
    clustering (``None``: the libraries' default)."""

    def __init__(
        self,
        clusterer: Clusterer | str | None = None,
        *,
        seed: int,
        n_clusters: int | None = None,
        max_clusters: int = 15,
        min_cluster_size: int = 2,
        threads: int | None = 1,
        silhouette_slack: float = 0.01,
    ) -> None:
        if isinstance(clusterer, str) and clusterer not in CLUSTERER_NAMES:
            raise ValueError(
                f"unknown clusterer {clusterer!r}; known: {', '.join(CLUSTERER_NAMES)}"
            )
        if n_clusters is not None and n_clusters < 1:
            raise ValueError("n_clusters must be >= 1")
        if max_clusters < 2 or min_cluster_size < 1:
            raise ValueError("max_clusters must be >= 2 and min_cluster_size >= 1")
        if silhouette_slack < 0:
            raise ValueError("silhouette_slack must be >= 0")
        self.clusterer: Clusterer | str = "kmeans" if clusterer is None else clusterer
        self.seed = seed
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size
        # OpenMP/BLAS threads while clustering. One by default: corpora are small
        # and oversubscribed cores (a shared CI box, an operator pod with a CPU
        # limit) make KMeans ten times slower with a thread per core.
        self.threads = threads
        # Parsimony: the smallest k whose silhouette is within this much of the
        # best wins. Silhouette is often flat once every true group is separated
        # (splitting a group in two costs almost nothing), and the larger k then
        # only fragments patterns.
        self.silhouette_slack = silhouette_slack

    # -- features ---------------------------------------------------------------
    @staticmethod
    def extract_features(upir: UPIR) -> FloatArray:
        """See :func:`upir.patterns.features.extract_features`."""
        return extract_features(upir)

    # -- clustering -------------------------------------------------------------
    def _make(self, k: int | None, eps: float = 0.5) -> Clusterer:
        """A fresh clusterer, set to ``k`` clusters when it takes a k."""
        c = self.clusterer
        model: Clusterer
        if c == "kmeans":
            model = KMeans(n_clusters=k or 2, n_init=4, random_state=self.seed)
        elif c == "agglomerative":
            model = AgglomerativeClustering(n_clusters=k or 2, linkage="ward")
        elif c == "dbscan":
            model = DBSCAN(eps=eps, min_samples=self._dbscan_min_samples())
        else:
            assert not isinstance(c, str)
            fresh: Any = clone(c) if hasattr(c, "get_params") else c
            if (
                k is not None
                and hasattr(fresh, "get_params")
                and "n_clusters" in fresh.get_params()
            ):
                fresh.set_params(n_clusters=k)
            model = fresh
        return model

    def _dbscan_min_samples(self) -> int:
        return max(self.min_cluster_size, 3)

    def _dbscan(self, x: FloatArray) -> Clustering:
        """DBSCAN with the radius that maximises silhouette x share of points
        clustered (so a radius that calls most points noise cannot win)."""
        best: tuple[float, IntArray] | None = None
        for eps in _dbscan_eps_candidates(x, self._dbscan_min_samples()):
            labels = np.asarray(self._make(None, eps).fit_predict(x), dtype=np.int64)
            score = _silhouette(x, labels)
            if score is None:
                continue
            covered = float(np.mean(labels >= 0))
            if best is None or score * covered > best[0]:
                best = (score * covered, labels)
        if best is None:
            return Clustering(np.zeros(x.shape[0], dtype=np.int64), 1, None)
        labels = best[1]
        found = len(set(labels[labels >= 0].tolist()))
        return Clustering(labels, found, _silhouette(x, labels))

    def _takes_k(self) -> bool:
        c = self.clusterer
        if isinstance(c, str):
            return c != "dbscan"
        return hasattr(c, "get_params") and "n_clusters" in c.get_params()

    def cluster(self, features: FloatArray) -> Clustering:
        """Cluster rows of a feature matrix (``feature_matrix(upirs)``)."""
        with threadpool_limits(limits=self.threads):
            return self._cluster(features)

    def _cluster(self, features: FloatArray) -> Clustering:
        n = features.shape[0]
        if n == 0:
            return Clustering(np.zeros(0, dtype=np.int64), 0, None)
        x = StandardScaler().fit_transform(features)
        distinct = len(np.unique(np.round(x, 9), axis=0))
        if n < 3 or distinct < 2:
            return Clustering(np.zeros(n, dtype=np.int64), 1, None)
        with warnings.catch_warnings():
            # KMeans warns when duplicates leave fewer distinct clusters than asked
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.clusterer == "dbscan":
                return self._dbscan(x)
            if not self._takes_k() or self.n_clusters is not None:
                k = None if self.n_clusters is None else min(self.n_clusters, distinct)
                model = self._make(k)
                labels = np.asarray(model.fit_predict(x), dtype=np.int64)
                found = len(set(labels[labels >= 0].tolist()))
                return Clustering(labels, found, _silhouette(x, labels))
            scores: dict[int, float] = {}
            fits: dict[int, IntArray] = {}
            for k in range(2, min(self.max_clusters, distinct, n - 1) + 1):
                model = self._make(k)
                labels = np.asarray(model.fit_predict(x), dtype=np.int64)
                score = _silhouette(x, labels)
                if score is None:
                    continue
                scores[k] = score
                fits[k] = labels
        if not scores:
            return Clustering(np.zeros(n, dtype=np.int64), 1, None, MappingProxyType(scores))
        top = max(scores.values())
        k = min(k for k, s in scores.items() if s >= top - self.silhouette_slack)
        return Clustering(fits[k], k, scores[k], MappingProxyType(scores))

    # -- patterns ---------------------------------------------------------------
    def extract_pattern(
        self,
        members: Sequence[UPIR | Observation],
        *,
        pattern_id: str | None = None,
        name: str | None = None,
        description: str | None = None,
        source: str = "discovered",
    ) -> Pattern:
        """The pattern a group of instances shares: roles with the parameter
        ranges seen, property templates with how many members state, were
        checked for and PROVED each, and the centroid and spread of their
        features. (Proof-cache keys for reuse are added by
        :class:`upir.patterns.reuse.ProofReuse` as instances are verified.)"""
        obs = [m if isinstance(m, Observation) else Observation(m) for m in members]
        if not obs:
            raise ValueError("a pattern needs at least one member")
        upirs = [o.upir for o in obs]
        grouping = group_roles(upirs)
        feats = feature_matrix(upirs)
        templates: dict[tuple[str, ...], PropertyTemplate] = {}
        for o, assign in zip(obs, grouping.assignments, strict=True):
            per_member: dict[tuple[str, ...], str] = {}
            for prop in o.upir.specification.all_properties():
                pred = to_source(rename(prop.predicate, assign))
                trig = None if prop.trigger is None else to_source(rename(prop.trigger, assign))
                bound = None if prop.time_bound_ms is None else str(prop.time_bound_ms)
                key = (prop.kind, prop.operator.value, pred, trig or "", bound or "")
                if key in per_member:
                    continue  # two fillers of one role stating the same thing count once
                per_member[key] = prop.name
                t = templates.get(key) or PropertyTemplate(
                    prop.name, prop.kind, prop.operator.value, pred, trig, prop.time_bound_ms
                )
                verdict = None if o.verdicts is None else o.verdicts.get(prop.name)
                templates[key] = PropertyTemplate(
                    t.name,
                    t.kind,
                    t.operator,
                    t.predicate,
                    t.trigger,
                    t.time_bound_ms,
                    seen=t.seen + 1,
                    checked=t.checked + (verdict is not None),
                    proved=t.proved + (verdict == PROVED),
                )
        if pattern_id is None:
            digest = hashlib.sha256("\n".join(sorted(u.content_hash() for u in upirs)).encode())
            pattern_id = f"discovered-{digest.hexdigest()[:12]}"
        if name is None:
            systems = Counter(u.system_type for u in upirs).most_common(1)[0][0]
            chain = " -> ".join(r.name for r in grouping.roles[:5])
            name = f"{systems}: {chain}" + (" ..." if len(grouping.roles) > 5 else "")
        if description is None:
            description = f"discovered from {len(upirs)} architecture(s)"
        return Pattern(
            id=pattern_id,
            name=name,
            description=description,
            source=source,
            roles=grouping.roles,
            connections=grouping.connections,
            centroid=tuple(float(v) for v in feats.mean(axis=0)),
            spread=tuple(float(v) for v in feats.std(axis=0)),
            properties=tuple(templates.values()),
            members=len(upirs),
            reference=upirs[0].to_resource(),
        )

    def discover(self, corpus: Sequence[UPIR | Observation]) -> DiscoveryResult:
        """Cluster ``corpus`` and return one pattern per cluster large enough."""
        obs = [m if isinstance(m, Observation) else Observation(m) for m in corpus]
        feats = feature_matrix([o.upir for o in obs])
        clustering = self.cluster(feats)
        patterns: list[Pattern] = []
        outliers: list[int] = [int(i) for i in np.flatnonzero(clustering.labels < 0)]
        for label in sorted(set(clustering.labels.tolist()) - {-1}):
            idx = [int(i) for i in np.flatnonzero(clustering.labels == label)]
            if len(idx) < self.min_cluster_size:
                outliers.extend(idx)
                continue
            patterns.append(self.extract_pattern([obs[i] for i in idx]))
        return DiscoveryResult(tuple(patterns), clustering, tuple(sorted(outliers)))

    def discover_patterns(self, corpus: Sequence[UPIR | Observation]) -> list[Pattern]:
        """The patterns of :meth:`discover` alone (the seed specification's name)."""
        return list(self.discover(corpus).patterns)


@dataclass(frozen=True)
class DiscoveryResult:
    patterns: tuple[Pattern, ...]
    clustering: Clustering
    outliers: tuple[int, ...]
    """Corpus indices left out: noise points and members of too-small clusters."""


def _dbscan_eps_candidates(x: FloatArray, min_samples: int) -> list[float]:
    """DBSCAN radii to try: quantiles of each point's distance to its
    ``min_samples``-th nearest neighbour (the k-distance curve) and multiples of
    its maximum, since the knee of that curve moves with the data."""
    k = min(min_samples, x.shape[0] - 1)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    kd = dist[:, k]
    cands = [float(np.percentile(kd, q)) for q in (50, 75, 90, 95, 99)]
    cands += [float(kd.max()) * m for m in (1.0, 1.5, 2.0, 3.0)]
    return sorted({c for c in cands if c > 0}) or [1e-6]


__all__ = [
    "CLUSTERER_NAMES",
    "Clusterer",
    "Clustering",
    "DiscoveryResult",
    "Observation",
    "PatternExtractor",
    "FEATURE_NAMES",
]
