"""Synthetic UPIR resources: renamed and perturbed instances of the built-in
families, and random architectures that belong to no family.

Used by the tests (calibration of matching) and the benchmark (discovery on a
corpus with known families). Every function takes a ``numpy.random.Generator``
so results are reproducible from a seed; nothing here reads global state.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from upir.core.catalog import COMPONENT_TYPES
from upir.patterns.builtin import BUILTINS, BuiltinPattern, Resource
from upir.patterns.rename import rename_components


def snap_125(x: float) -> int:
    """The value of the series 1, 2, 5, 10, 20, 50, ... nearest to ``x`` in log
    scale (0 for anything below 0.5)."""
    if x < 0.5:
        return 0
    exp = math.floor(math.log10(x))
    cands = [m * 10**e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5) if m * 10**e >= 1]
    return int(min(cands, key=lambda c: abs(math.log(x / c))))


def _token(rng: np.random.Generator, n: int = 3) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), n))


def perturb(
    doc: Resource,
    rng: np.random.Generator,
    *,
    spread: float = 0.3,
    rename: bool = True,
    drop_property: float = 0.0,
    snap: bool = False,
) -> Resource:
    """A variant of ``doc``: every parameter scaled by a log-uniform factor in
    ``[1/(1+spread), 1+spread]`` (rounded, kept within the catalogue's lower
    bound; with ``snap``, moved to the nearest value of the 1-2-5 series, the
    round numbers operators usually configure), components renamed with a
    random suffix and shuffled, and each non-invariant property dropped with
    probability ``drop_property``. Tunable parameter domains are widened to keep
    containing the new values."""
    out = copy.deepcopy(doc)
    comps = out["spec"]["architecture"]["components"]
    amp = math.log1p(spread)
    for c in comps:
        catalog = COMPONENT_TYPES[c["type"]].params
        for k, v in list(c.get("params", {}).items()):
            factor = math.exp(float(rng.uniform(-amp, amp)))
            lower = float(catalog[k].lower) if k in catalog else 0.0
            value = snap_125(v * factor) if snap else round(v * factor)
            c["params"][k] = max(int(value), math.ceil(lower))
    values = {f"{c['name']}.{k}": v for c in comps for k, v in c.get("params", {}).items()}
    for d in out["spec"].get("parameters", []):
        v = values.get(d["name"])
        if v is not None:
            d["min"] = min(d["min"], v)
            d["max"] = max(d["max"], v)
            d.pop("step", None)  # a scaled value is rarely on the original grid
    sspec = out["spec"]["specification"]
    if drop_property > 0:
        kept = [p for p in sspec.get("properties", []) if rng.random() >= drop_property]
        sspec["properties"] = kept
    order = rng.permutation(len(comps))
    out["spec"]["architecture"]["components"] = [comps[int(i)] for i in order]
    if rename:
        suffix = _token(rng)
        out = rename_components(out, {c["name"]: f"{c['name']}_{suffix}" for c in comps})
    out["metadata"]["name"] = f"{out['metadata']['name']}-{_token(rng, 5)}"
    return out


def family_instance(
    family: BuiltinPattern,
    rng: np.random.Generator,
    *,
    spread: float = 0.3,
    drop_property: float = 0.2,
    snap: bool = False,
) -> Resource:
    """An instance of ``family``: structural knobs sampled in their ranges, then
    :func:`perturb`-ed."""
    knobs = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in family.knobs.items()}
    return perturb(
        family.build(**knobs), rng, spread=spread, drop_property=drop_property, snap=snap
    )


def corpus(
    size: int,
    *,
    seed: int,
    spread: float = 0.3,
    drop_property: float = 0.2,
    snap: bool = False,
) -> list[tuple[str, Resource]]:
    """``size`` instances as (family id, resource), families taking turns so
    their sizes differ by at most one, in a seeded random order."""
    rng = np.random.default_rng(seed)
    out = [
        (
            fam.id,
            family_instance(fam, rng, spread=spread, drop_property=drop_property, snap=snap),
        )
        for fam in (BUILTINS[i % len(BUILTINS)] for i in range(size))
    ]
    order = rng.permutation(size)
    return [out[int(i)] for i in order]


# -- random architectures ------------------------------------------------------
_RANDOM_PARAMS: Mapping[str, tuple[float, float]] = {
    # log-uniform ranges (inclusive lower, upper) of each catalogue parameter
    "replicas": (1, 64),
    "concurrency": (1, 256),
    "timeout_ms": (1, 60000),
    "retries": (0, 10),
    "cost_per_replica": (0, 20),
    "capacity": (1, 1_000_000),
    "batch_size": (1, 10000),
    "flush_ms": (0, 10000),
}
_DERIVED_LIMITS: Mapping[str, tuple[float, float]] = {
    "latency_ms": (1.0, 60000.0),
    "availability": (0.5, 0.99999),
    "capacity_rps": (1, 100000),
    "utilization": (0.1, 1.0),
    "attempt_ms": (1, 60000),
    "length": (0, 100000),
    "dropped": (0, 100),
    "wait_ms": (1, 60000),
    "throughput_rps": (1, 100000),
    "arrival_rps": (1, 100000),
    "batch_items": (1, 10000),
}


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> int:
    return int(round(math.expm1(float(rng.uniform(math.log1p(lo), math.log1p(hi))))))


def random_resource(rng: np.random.Generator, *, max_components: int = 10) -> Resource:
    """A valid UPIR of random shape, parameters and specification: 1 to
    ``max_components`` components of random types, a random acyclic wiring,
    log-uniform parameters, and random properties and constraints. It belongs to
    no family, so matching should find nothing close."""
    n = int(rng.integers(1, max_components + 1))
    types = list(COMPONENT_TYPES)
    kinds = [types[int(i)] for i in rng.choice(len(types), size=n, p=[0.5, 0.3, 0.2])]
    names = [f"{k[0]}{i}_{_token(rng)}" for i, k in enumerate(kinds)]
    comps: list[dict[str, Any]] = []
    for name, kind in zip(names, kinds, strict=True):
        params = {p: _log_uniform(rng, *_RANDOM_PARAMS[p]) for p in COMPONENT_TYPES[kind].params}
        params = {
            p: max(v, math.ceil(float(COMPONENT_TYPES[kind].params[p].lower)))
            for p, v in params.items()
        }
        comps.append({"name": name, "type": kind, "params": params})
    conns: list[dict[str, str]] = []
    for j in range(1, n):
        for i in range(j):
            if rng.random() < (0.6 if i == j - 1 else 0.15):
                conns.append({"from": names[i], "to": names[j]})
    assumptions = [f"env.arrival_rps <= {_log_uniform(rng, 1, 100000)}"]
    for name, kind in zip(names, kinds, strict=True):
        if kind == "service":
            fastest = _log_uniform(rng, 1, 1000)
            slowest = fastest + _log_uniform(rng, 1, 5000)
            assumptions.append(f"{fastest} <= env.{name}_service_ms <= {slowest}")
    props: list[dict[str, Any]] = []
    ops = ["ALWAYS", "EVENTUALLY", "WITHIN", "UNTIL", "SINCE"]
    for i in range(int(rng.integers(0, 5))):
        k = int(rng.integers(0, n))
        derived = sorted(COMPONENT_TYPES[kinds[k]].derived)
        attr = derived[int(rng.integers(0, len(derived)))]
        lo, hi = _DERIVED_LIMITS.get(attr, (0.0, 100000.0))
        bound = round(float(rng.uniform(lo, hi)), 5)
        op = ops[int(rng.integers(0, len(ops)))]
        prop: dict[str, Any] = {
            "name": f"p{i}",
            "operator": op,
            "predicate": f"{names[k]}.{attr} <= {bound}",
        }
        if op == "WITHIN":
            prop["timeBoundMs"] = _log_uniform(rng, 10, 60000)
        if op in ("UNTIL", "SINCE"):
            prop["trigger"] = f"{names[k]}.{attr} >= 0"
        props.append(prop)
    constraints: dict[str, dict[str, float]] = {}
    if rng.random() < 0.5:
        constraints["latency_ms"] = {"max": _log_uniform(rng, 10, 60000)}
    if rng.random() < 0.5:
        constraints["availability"] = {"min": round(float(rng.uniform(0.9, 0.9999)), 4)}
    if rng.random() < 0.5:
        constraints["cost"] = {"max": _log_uniform(rng, 1, 1000)}
    if rng.random() < 0.5:
        constraints["throughput_rps"] = {"min": _log_uniform(rng, 1, 10000)}
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": f"random-{_token(rng, 6)}"},
        "spec": {
            "architecture": {"components": comps, "connections": conns},
            "specification": {
                "assumptions": assumptions,
                "properties": props,
                "constraints": constraints,
            },
        },
    }
