"""Verification benchmarks: proof cache, composition, incremental re-checks and
the candidate fast path, each measured side by side in one run.

Run from the repository root::

    python benchmarks/verification.py            # full run (a few minutes on 2 cores)
    python benchmarks/verification.py --quick    # small sizes, a smoke test

Prints every figure and writes them to ``benchmarks/results/verification.json``.

1. Proof cache: median latency of a cache hit (``verify_property`` of an
   already-proved property) against the median uncached check of the same
   properties (the 15 properties of the three examples), with and without the
   compositional path.
2. Generated systems of N components (N = 8, 16, 32, 64, 128; a gateway fanning
   out to 4 chains of services with a queue every fourth component; one latency
   or no-drop property per component plus latency, availability and cost
   constraints): the full ``verify`` monolithically (every property one Z3
   problem over its cone, ``timeout_ms`` per property) against compositional
   verification cold (empty caches) and warm (proof and contract caches primed,
   re-verification after one parameter change), as ratios.
3. Incremental re-verification of the 64-component system after one parameter
   change (``verify_incremental``) against a full re-verification of the changed
   system with fresh caches.
4. The candidate fast path (``check_params``) on a 10-parameter spec, fed a
   random walk of single-parameter moves like the PPO guardrail's: median and
   p95 per candidate, split by verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from upir.core import UPIR
from upir.settings import SolverSettings
from upir.verification import MODEL_VERSION, Z3_VERSION, ProofCache, Verdict, Verifier

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "verification.json"
EXAMPLES = [
    ROOT / "examples" / n for n in ("api-service.yaml", "streaming-pipeline.yaml", "batch-job.yaml")
]


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 4),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 4),
        "max_ms": round(ordered[-1], 4),
    }


def _load(path: Path) -> UPIR:
    import yaml

    return UPIR.from_resource(yaml.safe_load(path.read_text()))


def _quiet() -> None:
    import logging

    logging.getLogger("upir").setLevel(logging.ERROR)


# -- 1. cache ---------------------------------------------------------------------


def bench_cache(settings: SolverSettings, repeats: int) -> dict[str, Any]:
    upirs = [_load(p) for p in EXAMPLES]
    pairs = [(u, p) for u in upirs for p in u.specification.all_properties()]
    out: dict[str, Any] = {"properties": len(pairs)}
    for label, compositional in (("compositional", True), ("monolithic", False)):
        uncached: list[float] = []
        for u, p in pairs:
            verifier = Verifier(settings, None, compositional=compositional)
            t = time.perf_counter()
            result = verifier.verify_property(u, p)
            uncached.append((time.perf_counter() - t) * 1000)
            assert result.status is Verdict.PROVED, (p.name, result.status)
        out[f"uncached_{label}"] = _stats(uncached)
    verifier = Verifier(settings, ProofCache(4096))
    for u, p in pairs:
        verifier.verify_property(u, p)
    hits: list[float] = []
    for _ in range(repeats):
        for u, p in pairs:
            t = time.perf_counter()
            result = verifier.verify_property(u, p)
            hits.append((time.perf_counter() - t) * 1000)
            assert result.cached
    out["hit"] = _stats(hits)
    out["ratio_uncached_compositional_over_hit"] = round(
        out["uncached_compositional"]["median_ms"] / out["hit"]["median_ms"], 1
    )
    out["ratio_uncached_monolithic_over_hit"] = round(
        out["uncached_monolithic"]["median_ms"] / out["hit"]["median_ms"], 1
    )
    return out


# -- 2./3. generated systems ------------------------------------------------------


def generate(n: int, branches: int = 4) -> UPIR:
    """A gateway fanning out to ``branches`` chains; every fourth component is a
    queue (sink queues drained by the environment)."""
    comps: list[dict[str, Any]] = [
        {
            "name": "c0",
            "type": "service",
            "params": {"replicas": 8, "concurrency": 16, "timeout_ms": 50, "retries": 1},
        }
    ]
    links: list[tuple[str, str]] = []
    props: list[dict[str, Any]] = []
    tails = ["c0"] * branches
    for i in range(1, n):
        name = f"c{i}"
        if i % 4 == 2:
            comps.append({"name": name, "type": "queue", "params": {"capacity": 1000}})
            props.append(
                {
                    "name": f"nodrop_{name}",
                    "operator": "ALWAYS",
                    "predicate": f"{name}.dropped == 0",
                }
            )
        else:
            comps.append(
                {
                    "name": name,
                    "type": "service",
                    "params": {"replicas": 4, "concurrency": 8, "timeout_ms": 50, "retries": 1},
                }
            )
            props.append(
                {
                    "name": f"lat_{name}",
                    "operator": "ALWAYS",
                    "predicate": f"{name}.latency_ms <= 100",
                }
            )
        b = (i - 1) % branches
        links.append((tails[b], name))
        tails[b] = name
    assumptions = ["env.arrival_rps <= 100"]
    for c in comps:
        if c["type"] == "service":
            # one assumption per service keeps N=128 within the schema's 128 assumptions
            assumptions.append(
                f"1 <= env.{c['name']}_service_ms <= 20 and env.{c['name']}_failure_rate <= 0.001"
            )
        elif not any(a == c["name"] for a, _ in links):
            assumptions.append(f"env.{c['name']}_drain_rps >= 200")
    depth = max(1, (n + branches - 1) // branches) + 1
    doc = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": f"generated-{n}"},
        "spec": {
            "architecture": {
                "components": comps,
                "connections": [{"from": a, "to": b} for a, b in links],
            },
            "specification": {
                "assumptions": assumptions,
                "properties": props,
                "constraints": {
                    "latency_ms": {"max": 40 * depth + 100},
                    "availability": {"min": 0.99},
                    "cost": {"max": 10000},
                },
            },
        },
    }
    return UPIR.from_resource(doc)


def _timed_verify(verifier: Verifier, upir: UPIR) -> tuple[float, dict[str, int]]:
    t = time.perf_counter()
    report = verifier.verify(upir)
    return (time.perf_counter() - t) * 1000, report.counts()


def bench_sizes(settings: SolverSettings, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        upir = generate(n)
        changed = upir.with_params({"c1.retries": 0})
        mono_ms, mono_counts = _timed_verify(Verifier(settings, None, compositional=False), upir)
        cold_ms, cold_counts = _timed_verify(Verifier(settings, None), upir)
        warm = Verifier(settings, ProofCache(65536))
        warm.verify(upir)
        warm_ms, warm_counts = _timed_verify(warm, changed)
        hit_ms, _ = _timed_verify(warm, changed)
        row = {
            "components": n,
            "properties": len(upir.specification.all_properties()),
            "monolithic_ms": round(mono_ms, 1),
            "monolithic_verdicts": mono_counts,
            "compositional_cold_ms": round(cold_ms, 2),
            "compositional_cold_verdicts": cold_counts,
            "compositional_warm_after_change_ms": round(warm_ms, 2),
            "compositional_warm_verdicts": warm_counts,
            "all_cached_ms": round(hit_ms, 2),
            "ratio_monolithic_over_cold": round(mono_ms / cold_ms, 1),
            "ratio_monolithic_over_warm": round(mono_ms / warm_ms, 1),
            "monolithic_is_lower_bound": mono_counts["TIMEOUT"] + mono_counts["ERROR"] > 0,
        }
        rows.append(row)
        bound = ">=" if row["monolithic_is_lower_bound"] else ""
        print(
            f"  N={n:4d}: monolithic {mono_ms:9.1f} ms {mono_counts}  | compositional cold {cold_ms:8.2f} ms "
            f"({bound}{row['ratio_monolithic_over_cold']}x)  warm after 1 change {warm_ms:7.2f} ms "
            f"({bound}{row['ratio_monolithic_over_warm']}x)  all cached {hit_ms:6.2f} ms",
            flush=True,
        )
    return rows


def bench_incremental(settings: SolverSettings, n: int, repeats: int) -> dict[str, Any]:
    upir = generate(n)
    full: list[float] = []
    inc: list[float] = []
    rechecked: list[int] = []
    for i in range(repeats):
        new = upir.with_params({f"c{1 + 4 * (i % (n // 4))}.timeout_ms": 40 + i % 7})
        verifier = Verifier(settings, ProofCache(65536))
        old_report = verifier.verify(upir)
        before = verifier.stats()
        t = time.perf_counter()
        report = verifier.verify_incremental(upir, new, old_report)
        inc.append((time.perf_counter() - t) * 1000)
        after = verifier.stats()
        rechecked.append(
            (after.compositional + after.monolithic) - (before.compositional + before.monolithic)
        )
        t = time.perf_counter()
        fresh = Verifier(settings, ProofCache(65536)).verify(new)
        full.append((time.perf_counter() - t) * 1000)
        assert [r.status for r in report.results] == [r.status for r in fresh.results]
    out = {
        "components": n,
        "properties": len(upir.specification.all_properties()),
        "full_fresh": _stats(full),
        "incremental": _stats(inc),
        "properties_rechecked_median": statistics.median(rechecked),
    }
    out["ratio_full_over_incremental"] = round(
        out["full_fresh"]["median_ms"] / out["incremental"]["median_ms"], 1
    )
    return out


# -- 4. candidates ------------------------------------------------------------------

TEN_PARAMS = {
    "apiVersion": "upir.dev/v1alpha1",
    "kind": "UPIR",
    "metadata": {"name": "ten-params"},
    "spec": {
        "architecture": {
            "components": [
                {
                    "name": "ingest",
                    "type": "service",
                    "params": {"replicas": 2, "concurrency": 32, "timeout_ms": 100, "retries": 1},
                },
                {"name": "events", "type": "queue", "params": {"capacity": 20000}},
                {
                    "name": "batcher",
                    "type": "batcher",
                    "params": {"batch_size": 100, "flush_ms": 50},
                },
                {
                    "name": "processor",
                    "type": "service",
                    "params": {"replicas": 4, "concurrency": 4, "timeout_ms": 500, "retries": 2},
                },
            ],
            "connections": [
                {"from": "ingest", "to": "events"},
                {"from": "events", "to": "batcher"},
                {"from": "batcher", "to": "processor"},
            ],
        },
        "specification": {
            "assumptions": [
                "1000 <= env.arrival_rps <= 5000",
                "1 <= env.ingest_service_ms <= 10",
                "20 <= env.processor_service_ms <= 120",
                "env.ingest_failure_rate <= 0.001",
                "env.processor_failure_rate <= 0.01",
            ],
            "invariants": [
                {"name": "no_drops", "operator": "ALWAYS", "predicate": "events.dropped == 0"}
            ],
            "properties": [
                {
                    "name": "batch_wait_bounded",
                    "operator": "ALWAYS",
                    "predicate": "batcher.wait_ms <= 100",
                },
                {
                    "name": "ingest_fast",
                    "operator": "WITHIN",
                    "predicate": "ingest.latency_ms <= 40",
                    "timeBoundMs": 500,
                },
                {
                    "name": "retry_budget",
                    "operator": "ALWAYS",
                    "predicate": "processor.timeout_ms * (processor.retries + 1) <= 2000",
                },
            ],
            "constraints": {
                "latency_ms": {"max": 2000},
                "throughput_rps": {"min": 1000},
                "cost": {"max": 30},
            },
        },
        "parameters": [
            {"name": "ingest.replicas", "min": 1, "max": 8},
            {"name": "ingest.concurrency", "min": 4, "max": 64, "step": 4},
            {"name": "ingest.timeout_ms", "min": 10, "max": 400, "step": 10},
            {"name": "ingest.retries", "min": 0, "max": 4},
            {"name": "events.capacity", "min": 1000, "max": 50000, "step": 1000},
            {"name": "batcher.batch_size", "min": 1, "max": 500},
            {"name": "batcher.flush_ms", "min": 0, "max": 200, "step": 5},
            {"name": "processor.replicas", "min": 1, "max": 20},
            {"name": "processor.timeout_ms", "min": 50, "max": 1000, "step": 50},
            {"name": "processor.retries", "min": 0, "max": 5},
        ],
    },
}


def bench_candidates(settings: SolverSettings, count: int, seed: int) -> dict[str, Any]:
    upir = UPIR.from_resource(TEN_PARAMS)
    verifier = Verifier(settings, ProofCache(65536))
    verifier.verify(upir)
    rnd = random.Random(seed)
    current = dict(upir.tunable_values())
    domains = {d.name: d for d in upir.parameters}
    times: dict[str, list[float]] = {"accepted": [], "rejected": []}
    for _ in range(count):
        name = rnd.choice(sorted(domains))
        d = domains[name]
        step = d.step if d.step is not None else 1
        proposal = dict(current)
        proposal[name] = min(d.max, max(d.min, current[name] + step * rnd.choice([-2, -1, 1, 2])))
        t = time.perf_counter()
        report = verifier.check_params(upir, proposal)
        elapsed = (time.perf_counter() - t) * 1000
        if report.passed:
            times["accepted"].append(elapsed)
            current = proposal
        else:
            times["rejected"].append(elapsed)
    every = times["accepted"] + times["rejected"]
    return {
        "parameters": len(domains),
        "candidates": count,
        "all": _stats(every),
        "accepted": _stats(times["accepted"]) if times["accepted"] else None,
        "rejected": _stats(times["rejected"]) if times["rejected"] else None,
        "proof_cache": _cache_stats(verifier),
    }


def _cache_stats(verifier: Verifier) -> dict[str, Any] | None:
    stats = verifier.stats().cache
    if stats is None:
        return None
    return {"hits": stats.hits, "misses": stats.misses, "hit_rate": round(stats.hit_rate, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument(
        "--timeout-ms", type=int, default=5000, help="per-property Z3 limit for the monolithic runs"
    )
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    _quiet()
    settings = SolverSettings(timeout_ms=args.timeout_ms)
    sizes = [8, 16] if args.quick else [8, 16, 32, 64, 128]
    started = time.perf_counter()
    print("1. proof cache (the properties of the three examples)", flush=True)
    cache = bench_cache(settings, 5 if args.quick else 100)
    print(
        f"  hit median {cache['hit']['median_ms']} ms; uncached median {cache['uncached_compositional']['median_ms']} ms "
        f"(compositional, {cache['ratio_uncached_compositional_over_hit']}x), "
        f"{cache['uncached_monolithic']['median_ms']} ms (monolithic, {cache['ratio_uncached_monolithic_over_hit']}x)",
        flush=True,
    )
    print(
        f"2. generated systems, monolithic vs compositional (monolithic limit {args.timeout_ms} ms/property)",
        flush=True,
    )
    sizes_rows = bench_sizes(settings, sizes)
    inc_n = 16 if args.quick else 64
    print(f"3. incremental re-verification, {inc_n} components", flush=True)
    inc = bench_incremental(settings, inc_n, 3 if args.quick else 10)
    print(
        f"  full (fresh caches) median {inc['full_fresh']['median_ms']} ms, incremental median "
        f"{inc['incremental']['median_ms']} ms ({inc['ratio_full_over_incremental']}x; "
        f"{inc['properties_rechecked_median']} of {inc['properties']} properties re-checked)",
        flush=True,
    )
    same_n = [row for row in sizes_rows if row["components"] == inc_n]
    if same_n:
        # the monolithic full verification of the same system, from section 2 of this run
        inc["monolithic_full_ms"] = same_n[0]["monolithic_ms"]
        inc["monolithic_full_is_lower_bound"] = same_n[0]["monolithic_is_lower_bound"]
        inc["ratio_monolithic_full_over_incremental"] = round(
            same_n[0]["monolithic_ms"] / inc["incremental"]["median_ms"], 1
        )
        print(
            f"  monolithic full verification of the same system (section 2): {same_n[0]['monolithic_ms']} ms "
            f"({'>=' if same_n[0]['monolithic_is_lower_bound'] else ''}"
            f"{inc['ratio_monolithic_full_over_incremental']}x the incremental median)",
            flush=True,
        )
    print("4. check_params on a 10-parameter spec (random single-parameter moves)", flush=True)
    cand = bench_candidates(settings, 100 if args.quick else 1000, seed=1)
    for key in ("all", "accepted", "rejected"):
        if cand[key]:
            print(
                f"  {key:8s}: n={cand[key]['n']:4d} median {cand[key]['median_ms']} ms, p95 {cand[key]['p95_ms']} ms",
                flush=True,
            )
    total = time.perf_counter() - started
    result = {
        "command": "python benchmarks/verification.py" + (" --quick" if args.quick else ""),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "z3": Z3_VERSION,
        "model": MODEL_VERSION,
        "settings": {
            "timeout_ms": settings.timeout_ms,
            "bmc_steps": settings.bmc_steps,
            "step_ms": settings.step_ms,
        },
        "cache": cache,
        "sizes": sizes_rows,
        "incremental": inc,
        "candidates": cand,
        "total_seconds": round(total, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
