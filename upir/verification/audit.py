"""Differential audits of the verifier: generated UPIRs checked four ways.

``PROVED`` must mean the same however it is reached (DESIGN.md section 4).
Each audit below compares two routes to a verdict that must agree, on random
UPIRs from :func:`random_upir` (small graphs of services, queues and batchers
with random parameters, assumptions and properties, seeded):

* :func:`audit_check_params`: ``check_params`` after a prior ``verify`` (the
  guardrail's incremental path, warm caches) against a fresh verifier on the
  changed UPIR, for random single and joint parameter changes;
* :func:`audit_shared`: several documents through one verifier in a random
  order against a fresh verifier per document;
* :func:`audit_counterexample`: every counterexample binds every name, lies in
  the physical domains, satisfies every assumption (evaluated exactly, here,
  not by the verifier's own check) and replays to a violation;
* :func:`audit_equivalents`: predicates equivalent on every state (``X``,
  ``X or q.length < 0``, ``not not X``, ``X and true``) get the same verdict.

Used by the test tier with a few seeds and by ``benchmarks/differential.py``
at scale. Every function takes its seed or ``random.Random``; nothing reads
global state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from upir.core.temporal import TemporalOperator, TemporalProperty
from upir.core.upir import UPIR
from upir.errors import InvalidSpecError
from upir.expr import EvaluationError, evaluate, parse
from upir.expr.ast import names
from upir.expr.printer import to_source
from upir.settings import SolverSettings
from upir.verification.cache import ProofCache
from upir.verification.reference import replay, required_env
from upir.verification.results import Verdict, VerificationReport, VerificationResult
from upir.verification.structure import Structure
from upir.verification.verifier import Verifier

__all__ = [
    "Disagreement",
    "Tally",
    "audit_check_params",
    "audit_counterexample",
    "audit_equivalents",
    "audit_shared",
    "random_upir",
    "run_audits",
]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One case where two routes disagree (or a counterexample is bad)."""

    audit: str
    upir: str
    prop: str
    detail: str


@dataclass(slots=True)
class Tally:
    """Cases compared and the disagreements found, per audit."""

    cases: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)

    def count(self, audit: str, n: int = 1) -> None:
        self.cases[audit] = self.cases.get(audit, 0) + n

    def disagree(self, audit: str, upir: UPIR, prop: str, detail: str) -> None:
        self.disagreements.append(Disagreement(audit, upir.name, prop, detail))


# -- generated UPIRs -------------------------------------------------------------

_SERVICE = {"replicas": (1, 2, 4), "concurrency": (1, 2, 8), "timeout_ms": (20, 50, 100, 300)}


def random_upir(rng: random.Random, name: str = "gen") -> UPIR | None:
    """A small random UPIR (2 to 5 components), or None when the draw is not a
    valid resource (the loader's verdict, not ours)."""
    diamond = rng.random() < 0.25
    if diamond:
        # two queue -> batcher branches into one service: a change on one branch
        # moves what the shared consumer accepts, and so the other queue's drain
        types = ["service", "queue", "batcher", "queue", "batcher", "service"]
    else:
        types = [
            rng.choice(("service", "service", "queue", "batcher")) for _ in range(rng.randint(2, 5))
        ]
    n = len(types)
    comps: list[dict[str, Any]] = []
    for i, t in enumerate(types):
        # names do not say the type: the same name is a service in one document
        # and a queue in another, as in a shared verifier's real life
        cname = f"c{i}"
        params: dict[str, int]
        if t == "service":
            params = {k: rng.choice(v) for k, v in _SERVICE.items()}
            params["retries"] = rng.randint(0, 2)
        elif t == "queue":
            params = {"capacity": rng.choice((5, 20, 100, 1000))}
        else:
            params = {"batch_size": rng.choice((1, 5, 10)), "flush_ms": rng.choice((10, 50, 200))}
        comps.append({"name": cname, "type": t, "params": params})
    links: set[tuple[str, str]] = set()
    if diamond:
        links = {("c0", "c1"), ("c1", "c2"), ("c2", "c5"), ("c0", "c3"), ("c3", "c4"), ("c4", "c5")}
    for i in range(1, n if not diamond else 0):
        for j in rng.sample(range(i), k=min(i, rng.choice((1, 1, 2)))):
            links.add((comps[j]["name"], comps[i]["name"]))
    st_names = [c["name"] for c in comps]
    services = [c["name"] for c in comps if c["type"] == "service"]
    queues = [c["name"] for c in comps if c["type"] == "queue"]
    batchers = [c["name"] for c in comps if c["type"] == "batcher"]
    sinks = {c for c in st_names if not any(a == c for a, _ in links)}
    assumptions = [f"env.arrival_rps <= {rng.choice((10, 50, 200, 1000))}"]
    if rng.random() < 0.3:
        assumptions.append(f"env.arrival_rps >= {rng.choice((1, 5))}")
    for s in services:
        lo = rng.choice((1, 5, 10))
        assumptions.append(f"{lo} <= env.{s}_service_ms <= {lo * rng.choice((2, 4, 20))}")
        assumptions.append(f"env.{s}_failure_rate <= {rng.choice(('0', '0.01', '0.1'))}")
    for q in queues:
        if q in sinks:
            assumptions.append(f"env.{q}_drain_rps >= {rng.choice((5, 50, 500))}")
    if rng.random() < 0.2:
        assumptions.append("1 < 2")
    for q in queues:
        if rng.random() < 0.3:
            # free beside a queue, in [0, 1] if another document has a service
            # of this name: the same text must not share a meaning across them
            assumptions.append(f"env.{q}_failure_rate >= 2")
    props = _random_properties(rng, services, queues, batchers)
    tunable = _random_parameters(rng, comps)
    doc = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": name},
        "spec": {
            "architecture": {
                "components": comps,
                "connections": [{"from": a, "to": b} for a, b in sorted(links)],
            },
            "specification": {
                "assumptions": assumptions,
                "invariants": [p for p in props if p["operator"] == "ALWAYS"],
                "properties": [p for p in props if p["operator"] != "ALWAYS"],
            },
            "parameters": tunable,
        },
    }
    try:
        return UPIR.from_resource(doc)
    except InvalidSpecError:
        return None


def _random_properties(
    rng: random.Random, services: list[str], queues: list[str], batchers: list[str]
) -> list[dict[str, Any]]:
    pool: list[tuple[str, str]] = [
        ("ALWAYS", f"system.latency_ms <= {rng.choice((100, 500, 3000))}"),
        ("ALWAYS", f"system.availability >= {rng.choice(('0.9', '0.99', '0.9999'))}"),
        ("ALWAYS", f"system.loss <= {rng.choice(('0.001', '0.1'))}"),
    ]
    for s in services:
        pool.append(("ALWAYS", f"{s}.utilization <= {rng.choice(('0.5', '1', '2'))}"))
        pool.append(("WITHIN", f"{s}.latency_ms <= {rng.choice((50, 200, 1000))}"))
        # model 2: the wait and the shed load, and a latency guarded against
        # saturation (defined everywhere, like a guarded division)
        pool.append(("ALWAYS", f"{s}.wait_ms <= {rng.choice((100, 2000))}"))
        pool.append(("ALWAYS", f"{s}.shed_rps <= {rng.choice((0, 50))}"))
        pool.append(
            ("ALWAYS", f"{s}.utilization >= 0.8 or {s}.latency_ms <= {rng.choice((500, 5000))}")
        )
    for q in queues:
        pool.append(("ALWAYS", f"{q}.dropped == 0"))
        pool.append(("ALWAYS", f"{q}.length <= {rng.choice((1, 10, 100))}"))
        pool.append(("EVENTUALLY", f"{q}.length <= {rng.choice((0, 10))}"))
        pool.append(("ALWAYS", f"{q}.wait_ms <= {rng.choice((100, 1000))}"))
    for b in batchers:
        pool.append(("ALWAYS", f"{b}.wait_ms <= {rng.choice((5, 50))}"))
    picked = rng.sample(pool, k=min(len(pool), rng.randint(2, 5)))
    out: list[dict[str, Any]] = []
    for i, (op, pred) in enumerate(picked):
        entry: dict[str, Any] = {"name": f"p{i}", "operator": op, "predicate": pred}
        if op == "WITHIN":
            entry["timeBoundMs"] = rng.choice((200, 1000))
        out.append(entry)
    return out


def _random_parameters(rng: random.Random, comps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in comps:
        for key, value in c["params"].items():
            if rng.random() < 0.35:
                lo = 1 if key != "retries" else 0
                out.append({"name": f"{c['name']}.{key}", "min": lo, "max": max(value * 4, 4)})
    return out


def random_change(rng: random.Random, upir: UPIR, joint: bool) -> dict[str, Fraction]:
    """One or (``joint``) several tunable parameters moved within their domains."""
    params = list(upir.parameters)
    if not params:
        return {}
    picked = rng.sample(params, k=min(len(params), rng.randint(2, 3) if joint else 1))
    out: dict[str, Fraction] = {}
    for p in picked:
        lo, hi = int(p.min), int(p.max)
        out[p.name] = Fraction(rng.randint(lo, hi))
    return out


# -- the audits ----------------------------------------------------------------------


def _statuses(report: VerificationReport) -> dict[str, Verdict]:
    return {r.property.name: r.status for r in report.results}


def _compare(
    tally: Tally,
    audit: str,
    upir: UPIR,
    got: VerificationReport,
    want: VerificationReport,
    what: str,
) -> None:
    a, b = _statuses(got), _statuses(want)
    tally.count(audit, len(b))
    for name, verdict in b.items():
        if Verdict.TIMEOUT in (a.get(name), verdict):
            # out of time on one route: a resource limit, not a verdict
            tally.count("timeout")
            continue
        if a.get(name) is not verdict:
            tally.disagree(
                audit, upir, name, f"{what}: {a.get(name)} where a fresh verifier says {verdict}"
            )


def audit_check_params(
    upir: UPIR, rng: random.Random, settings: SolverSettings, tally: Tally, rounds: int = 4
) -> list[tuple[UPIR, VerificationResult]]:
    """``check_params`` after ``verify`` (one warm verifier) against a fresh
    verifier, for ``rounds`` random changes (single, then joint). Returns every
    result seen with the UPIR it is for, for :func:`audit_counterexample`."""
    warm = Verifier(settings, ProofCache(4096))
    seen = [(upir, r) for r in warm.verify(upir).results]
    for i in range(rounds):
        change = random_change(rng, upir, joint=i % 2 == 1)
        if not change:
            return seen
        got = warm.check_params(upir, change)
        changed = upir.with_params(change)
        want = Verifier(settings, ProofCache(64)).verify(changed)
        _compare(tally, "check_params", changed, got, want, f"after {_show(change)}")
        seen.extend((changed, r) for r in got.results)
    return seen


def twin(upir: UPIR) -> UPIR | None:
    """``upir`` with its first queue turned into a service of the same name, the
    assumptions kept word for word and the properties replaced by ones over the
    system: the same assumption texts now mean something else (a queue's
    ``env.<name>_failure_rate`` is free, a service's lies in [0, 1]), which a
    verifier shared by both must not confuse. None without a queue."""
    doc = upir.to_resource()
    comps = doc["spec"]["architecture"]["components"]
    queue = next((c for c in comps if c["type"] == "queue"), None)
    if queue is None:
        return None
    queue["type"] = "service"
    queue["params"] = {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 1}
    spec = doc["spec"]["specification"]
    spec["invariants"] = [
        {"name": "p0", "operator": "ALWAYS", "predicate": "system.availability >= 0.9"},
        {"name": "p1", "operator": "ALWAYS", "predicate": "system.latency_ms <= 3000"},
    ]
    spec["properties"] = []
    doc["spec"].pop("parameters", None)
    doc["metadata"]["name"] = f"{upir.name}-twin"
    try:
        return UPIR.from_resource(doc)
    except InvalidSpecError:
        return None


def audit_shared(
    upirs: Sequence[UPIR], rng: random.Random, settings: SolverSettings, tally: Tally
) -> None:
    """Documents, and the :func:`twin` of each, through one shared verifier in
    a random order against a fresh verifier each."""
    shared = Verifier(settings, ProofCache(4096))
    upirs = [*upirs, *(t for t in map(twin, upirs) if t is not None)]
    order = list(range(len(upirs)))
    rng.shuffle(order)
    for i in order:
        got = shared.verify(upirs[i])
        want = Verifier(settings, ProofCache(64)).verify(upirs[i])
        _compare(tally, "shared", upirs[i], got, want, "through a shared verifier")


def audit_counterexample(upir: UPIR, result: VerificationResult, tally: Tally) -> None:
    """A VIOLATED result's counterexample: complete, in the domains, every
    assumption true (evaluated here with the expression evaluator), and it
    replays to a violation."""
    if result.status is not Verdict.VIOLATED:
        return
    tally.count("counterexample")
    cex = result.counterexample
    prop = result.property
    if cex is None:
        tally.disagree("counterexample", upir, prop.name, "VIOLATED without a counterexample")
        return
    st = Structure(upir.architecture)
    needed = required_env(st, upir, prop)
    for t, env in enumerate(cex.env):
        missing = needed - env.keys()
        if missing:
            tally.disagree("counterexample", upir, prop.name, f"step {t} lacks {sorted(missing)}")
            return
        for n, value in env.items():
            if not st.domain(n).contains(value):
                tally.disagree("counterexample", upir, prop.name, f"{n}={value} outside its domain")
                return
        for a in upir.specification.assumptions:
            try:
                ok = evaluate(a.expr, env) is True
            except EvaluationError:
                ok = False
            if not ok:
                tally.disagree(
                    "counterexample", upir, prop.name, f"step {t} breaks '{to_source(a.expr)}'"
                )
                return
    if not replay(upir, prop, cex, st):
        tally.disagree("counterexample", upir, prop.name, "does not replay to a violation")


EQUIVALENTS: tuple[Callable[[str, str | None], str | None], ...] = (
    lambda x, q: f"not (not ({x}))",
    lambda x, q: f"({x}) and true",
    lambda x, q: None if q is None else f"({x}) or {q}.length < 0",
    lambda x, q: None if q is None else f"({x}) and {q}.length >= 0",
)
"""Rewrites of a predicate ``x`` that hold on exactly the same states (``q``: a
queue of the architecture, whose length is never negative)."""


def audit_equivalents(upir: UPIR, settings: SolverSettings, tally: Tally) -> None:
    """Each property against its :data:`EQUIVALENTS`, through one verifier."""
    verifier = Verifier(settings, ProofCache(256))
    queues: list[str | None] = [c.name for c in upir.architecture.components if c.type == "queue"]
    for prop in upir.specification.all_properties():
        base = verifier.verify_property(upir, prop).status
        text = to_source(prop.predicate)
        for make in EQUIVALENTS:
            for q in queues or [None]:
                rewritten = make(text, q)
                if rewritten is None:
                    continue
                variant = TemporalProperty(
                    prop.name,
                    prop.operator,
                    parse(rewritten, field="audit"),
                    prop.trigger,
                    prop.time_bound_ms,
                )
                if names(variant.predicate) - names(prop.predicate) and prop.operator not in (
                    TemporalOperator.ALWAYS,
                    TemporalOperator.EVENTUALLY,
                    TemporalOperator.WITHIN,
                ):
                    continue
                tally.count("equivalent")
                got = verifier.verify_property(upir, variant).status
                if Verdict.TIMEOUT in (got, base):
                    tally.count("timeout")
                elif got is not base:
                    tally.disagree(
                        "equivalent", upir, prop.name, f"'{rewritten}' is {got}, '{text}' is {base}"
                    )


def _show(change: dict[str, Fraction]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(change.items()))


def run_audits(
    seeds: Sequence[int],
    settings: SolverSettings,
    *,
    rounds: int = 4,
    shared_batch: int = 25,
    progress: Callable[[int, Tally], None] | None = None,
) -> Tally:
    """All four audits on the UPIRs of ``seeds`` (one :func:`random_upir`
    each; a draw the loader rejects is counted as ``invalid draw``), then the
    shared-verifier audit over batches of ``shared_batch`` documents.
    ``progress(done, tally)`` is called after each seed."""
    tally = Tally()
    docs: list[UPIR] = []
    for i, seed in enumerate(seeds):
        rng = random.Random(seed)
        upir = random_upir(rng, name=f"g{seed}")
        if upir is None:
            tally.count("invalid draw")
        else:
            docs.append(upir)
            for changed, result in audit_check_params(upir, rng, settings, tally, rounds):
                audit_counterexample(changed, result, tally)
            audit_equivalents(upir, settings, tally)
        if progress is not None:
            progress(i + 1, tally)
    for start in range(0, len(docs), shared_batch):
        audit_shared(docs[start : start + shared_batch], random.Random(start), settings, tally)
    return tally
