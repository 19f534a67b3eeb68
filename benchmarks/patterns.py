"""Pattern benchmarks: matching speed, discovery quality, proof reuse.

Run from the repository root::

    python benchmarks/patterns.py            # full run (several minutes on 2 cores)
    python benchmarks/patterns.py --quick    # small sizes, a smoke test

Prints every figure and writes them to ``benchmarks/results/patterns.json``.

1. Matching against a library of 1,000 patterns (the 10 built-ins plus 990
   single-instance patterns from generated architectures): per-query time of the
   full ``PatternLibrary.match`` (features, vectorised scores, top 5 with
   explanations and role maps) and of the vectorised scoring alone, side by side
   with a per-pattern Python loop doing the same arithmetic.
2. Discovery on a generated corpus of 500 architectures from the 10 families
   (structural variants, parameters scaled by up to 1.3x either way, properties
   dropped at random, components renamed): adjusted Rand index of the clusters
   against the true families, per clusterer.
3. Proof reuse on that corpus, verified in order by the real verifier: the share
   of property checks answered from a matched pattern's proofs, for the built-in
   library (seeded with the reference instances) and for the patterns discovered
   from the corpus itself (starting with no proofs), next to the name-keyed proof
   cache alone; in two parameter regimes: continuous scaling, and the same with
   parameters snapped to the 1-2-5 series.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import adjusted_rand_score

from upir.core import UPIR
from upir.patterns import BUILTINS, PatternExtractor, PatternLibrary, extract_features
from upir.patterns.features import feature_matrix
from upir.patterns.generate import corpus, family_instance, random_resource
from upir.patterns.matching import SimilarityIndex
from upir.patterns.reuse import ProofReuse
from upir.settings import SolverSettings
from upir.verification import Z3_VERSION, ProofCache, Verifier

RESULTS = Path(__file__).resolve().parent / "results" / "patterns.json"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 4),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "max_ms": round(ordered[-1], 4),
    }


# -- 1. matching ---------------------------------------------------------------------
def bench_matching(library_size: int, queries: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    extractor = PatternExtractor(seed=seed)
    library = PatternLibrary.builtin()
    i = 0
    while len(library) < library_size:
        if i % 2 == 0:
            doc = family_instance(BUILTINS[i % len(BUILTINS)], rng, spread=1.0)
        else:
            doc = random_resource(rng)
        u = UPIR.from_resource(doc)
        library.add(extractor.extract_pattern([u], pattern_id=f"generated-{i}"))
        i += 1
    qs = [
        UPIR.from_resource(
            family_instance(BUILTINS[k % len(BUILTINS)], rng)
            if k % 2 == 0
            else random_resource(rng)
        )
        for k in range(queries)
    ]
    xs = [extract_features(u) for u in qs]
    library.match(qs[0], top_k=5)  # builds the index once, as a long-lived library would
    patterns = list(library)
    singles = [SimilarityIndex(p.vector[None, :], p.spread_vector[None, :]) for p in patterns]
    full, scoring, loop = [], [], []
    for u, x in zip(qs, xs, strict=True):
        t = time.perf_counter()
        library.match(u, top_k=5)
        full.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        library.match_features(x, top_k=5)
        scoring.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        sims = [float(s.similarities(x)[0]) for s in singles]
        sorted(range(len(sims)), key=lambda j: -sims[j])[:5]
        loop.append((time.perf_counter() - t) * 1e3)
    out = {
        "library_patterns": len(library),
        "queries": queries,
        "match_full": _ms(full),
        "vectorised_scoring": _ms(scoring),
        "per_pattern_loop": _ms(loop),
        "loop_over_vectorised_median": round(
            statistics.median(loop) / statistics.median(scoring), 1
        ),
    }
    print(
        f"matching vs {len(library)} patterns, {queries} queries: "
        f"full match median {out['match_full']['median_ms']:.3f} ms "
        f"(p95 {out['match_full']['p95_ms']:.3f}); vectorised scoring median "
        f"{out['vectorised_scoring']['median_ms']:.3f} ms; per-pattern loop median "
        f"{out['per_pattern_loop']['median_ms']:.3f} ms "
        f"({out['loop_over_vectorised_median']}x the vectorised time)"
    )
    return out


# -- 2. discovery --------------------------------------------------------------------
def bench_discovery(upirs: list[UPIR], families: list[str], seed: int) -> dict[str, Any]:
    x = feature_matrix(upirs)
    out: dict[str, Any] = {"architectures": len(upirs), "families": len(set(families))}
    runs = [
        ("kmeans", PatternExtractor("kmeans", seed=seed)),
        ("agglomerative", PatternExtractor("agglomerative", seed=seed)),
        ("dbscan", PatternExtractor("dbscan", seed=seed)),
        ("kmeans_no_parsimony", PatternExtractor("kmeans", seed=seed, silhouette_slack=0.0)),
    ]
    for name, ex in runs:
        t = time.perf_counter()
        cl = ex.cluster(x)
        secs = time.perf_counter() - t
        ari = float(adjusted_rand_score(families, cl.labels))
        out[name] = {
            "clusters": cl.k,
            "silhouette": None if cl.silhouette is None else round(cl.silhouette, 4),
            "noise": cl.noise,
            "adjusted_rand_index": round(ari, 4),
            "seconds": round(secs, 3),
        }
        print(
            f"discovery {name}: k={cl.k} silhouette={cl.silhouette or 0:.3f} noise={cl.noise} "
            f"ARI={ari:.3f} ({secs:.2f} s)"
        )
    return out


# -- 3. proof reuse ------------------------------------------------------------------
def _verify_plain(upirs: list[UPIR], settings: SolverSettings) -> dict[str, Any]:
    verifier = Verifier(settings, ProofCache(1_000_000))
    statuses: list[list[str]] = []
    per_upir: list[float] = []
    t = time.perf_counter()
    for u in upirs:
        t0 = time.perf_counter()
        statuses.append([r.status.value for r in verifier.verify(u).results])
        per_upir.append((time.perf_counter() - t0) * 1e3)
    secs = time.perf_counter() - t
    st = verifier.stats()
    assert st.cache is not None
    checks = sum(len(s) for s in statuses)
    return {
        "statuses": statuses,
        "seconds": round(secs, 2),
        "per_upir": _ms(per_upir),
        "checks": checks,
        "proof_cache_hits": st.cache.hits,
        "proof_cache_hit_rate": round(st.cache.hits / checks, 4),
        "contract_cache_hit_rate": round(st.contracts.hit_rate, 4),
        "compositional_checks": st.compositional,
        "monolithic_checks": st.monolithic,
        "verdicts": dict(Counter(s for ss in statuses for s in ss)),
    }


def _verify_reuse(
    upirs: list[UPIR], library: PatternLibrary, settings: SolverSettings, seed_builtins: bool
) -> dict[str, Any]:
    verifier = Verifier(settings, ProofCache(1_000_000))
    engine = ProofReuse(verifier, library)
    if seed_builtins:
        for b in BUILTINS:
            engine.seed_pattern(b.id, UPIR.from_resource(b.reference))
    statuses: list[list[str]] = []
    reused = reusable = total = matched = 0
    per_upir: list[float] = []
    t = time.perf_counter()
    for u in upirs:
        t0 = time.perf_counter()
        o = engine.verify(u)
        per_upir.append((time.perf_counter() - t0) * 1e3)
        statuses.append([r.status.value for r in o.report.results])
        reused += o.reused
        reusable += o.reusable
        total += o.total
        matched += o.pattern_id is not None
    secs = time.perf_counter() - t
    st = verifier.stats()
    return {
        "statuses": statuses,
        "seconds": round(secs, 2),
        "per_upir": _ms(per_upir),
        "checks": total,
        "matched_upirs": matched,
        "reused": reused,
        "reusable": reusable,
        "reuse_rate": round(reused / total, 4) if total else 0.0,
        "contract_cache_hit_rate": round(st.contracts.hit_rate, 4),
        "compositional_checks": st.compositional,
        "monolithic_checks": st.monolithic,
    }


def bench_reuse(
    label: str,
    upirs: list[UPIR],
    discovered: PatternLibrary,
    settings: SolverSettings,
) -> dict[str, Any]:
    plain = _verify_plain(upirs, settings)
    builtin = _verify_reuse(upirs, PatternLibrary.builtin(), settings, seed_builtins=True)
    found = _verify_reuse(upirs, discovered, settings, seed_builtins=False)
    # A definitive verdict that differs between runs would be a soundness bug;
    # TIMEOUT/UNKNOWN may differ with machine load and are counted apart.
    definitive = {"PROVED", "VIOLATED"}
    mismatches = inconclusive = 0
    for a_run, b_run, c_run in zip(
        plain["statuses"], builtin["statuses"], found["statuses"], strict=True
    ):
        for a, b, c in zip(a_run, b_run, c_run, strict=True):
            seen = {a, b, c}
            if len(seen & definitive) > 1:
                mismatches += 1
            elif len(seen) > 1:
                inconclusive += 1
    for d in (plain, builtin, found):
        del d["statuses"]
    out = {
        "upirs": len(upirs),
        "name_keyed_cache_only": plain,
        "builtin_patterns": builtin,
        "discovered_patterns": found,
        "verdict_mismatches": mismatches,
        "inconclusive_differences": inconclusive,
        "time_ratio_plain_over_builtin_reuse": round(plain["seconds"] / builtin["seconds"], 2),
    }
    print(
        f"reuse [{label}]: {plain['checks']} property checks on {len(upirs)} UPIRs; "
        f"name-keyed cache hits {plain['proof_cache_hit_rate']:.1%}; "
        f"built-in pattern reuse {builtin['reuse_rate']:.1%}; "
        f"discovered pattern reuse {found['reuse_rate']:.1%}; "
        f"verdict mismatches {mismatches} (inconclusive differences {inconclusive}); "
        f"median per UPIR plain {plain['per_upir']['median_ms']:.1f} ms vs with built-in "
        f"reuse {builtin['per_upir']['median_ms']:.1f} ms; total {plain['seconds']} s vs "
        f"{builtin['seconds']} s; solver-backed checks plain "
        f"{plain['compositional_checks']} compositional + {plain['monolithic_checks']} monolithic vs "
        f"{builtin['compositional_checks']} + {builtin['monolithic_checks']} with reuse; "
        f"contract-cache hit rate "
        f"{plain['contract_cache_hit_rate']:.1%}; verdicts {plain['verdicts']}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    n_lib, n_q, n_corpus = (100, 20, 60) if args.quick else (1000, 200, 500)
    # A 2 s solver limit keeps the rare slow monolithic check from dominating;
    # the same limit applies to every run compared.
    settings = SolverSettings(timeout_ms=2000)
    results: dict[str, Any] = {
        "command": "python benchmarks/patterns.py" + (" --quick" if args.quick else ""),
        "seed": args.seed,
        "solver_timeout_ms": settings.timeout_ms,
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
            "z3": Z3_VERSION,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
    }
    results["matching"] = bench_matching(n_lib, n_q, args.seed)

    docs = corpus(n_corpus, seed=args.seed)
    upirs = [UPIR.from_resource(d) for _, d in docs]
    families = [f for f, _ in docs]
    results["discovery"] = bench_discovery(upirs, families, args.seed)

    reuse: dict[str, Any] = {}
    for label, snap in (("continuous", False), ("snapped_1_2_5", True)):
        rdocs = docs if not snap else corpus(n_corpus, seed=args.seed, snap=True)
        rups = upirs if not snap else [UPIR.from_resource(d) for _, d in rdocs]
        discovered = PatternLibrary(PatternExtractor(seed=args.seed).discover(rups).patterns)
        reuse[label] = bench_reuse(label, rups, discovered, settings)
    results["reuse"] = reuse

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
