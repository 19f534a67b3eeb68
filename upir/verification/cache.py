"""The proof cache: a bounded, thread-safe LRU of verdicts keyed by a content hash
of everything that can change the verdict.

A key (:func:`property_key`) is the SHA-256 of the canonical JSON of: the property
(operator, predicate and trigger printed from their AST, time bound), the cone of
influence (each component in it with its type, exact parameter values and
neighbours), the environment names in the cone with their physical domains, the
assumptions that constrain them, the model/encoder version, the Z3 version and the
solver settings that change verdicts (``bmc_steps``, ``step_ms``). Only the cone is
serialized, never the whole architecture, and the property's *name* is not part of
it (two properties with the same meaning share an entry).

Only definitive verdicts (PROVED, VIOLATED) are stored: an UNKNOWN or TIMEOUT may
resolve with more time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from fractions import Fraction

from upir.core.specification import Assumption, canonical_hash
from upir.core.temporal import TemporalProperty
from upir.expr.ast import names
from upir.expr.printer import to_source
from upir.settings import SolverSettings
from upir.verification.encoder import assumption_group
from upir.verification.memo import LRU, CacheStats
from upir.verification.results import Verdict, VerificationResult
from upir.verification.structure import MODEL_VERSION, Structure, Support
from upir.verification.z3util import Z3_VERSION


class ProofCache:
    """Verdicts by content hash (see the module docstring). Thread-safe."""

    def __init__(self, size: int = 4096) -> None:
        self._lru: LRU[str, VerificationResult] = LRU(size)

    @property
    def size(self) -> int:
        return self._lru.size

    def get(self, key: str) -> VerificationResult | None:
        return self._lru.get(key)

    def put(self, key: str, result: VerificationResult) -> None:
        if result.status in (Verdict.PROVED, Verdict.VIOLATED):
            self._lru.put(key, result)

    def clear(self) -> None:
        self._lru.clear()

    def stats(self) -> CacheStats:
        return self._lru.stats()

    def __len__(self) -> int:
        return len(self._lru)


class SpecInfo:
    """Per-specification facts the cache keys need, computed once: the printed
    assumptions and, per set of environment names, the assumptions that
    constrain them."""

    def __init__(self, assumptions: Sequence[Assumption], token: int = 0) -> None:
        self.token = token
        """A number unique to this specification within its verifier (memo keys)."""
        self.assumptions = tuple(assumptions)
        self.texts = tuple(to_source(a.expr) for a in assumptions)
        self._groups: dict[frozenset[str], tuple[tuple[str, ...], frozenset[str]]] = {}
        self._lock = threading.Lock()

    def _group(self, env: frozenset[str]) -> tuple[tuple[str, ...], frozenset[str]]:
        with self._lock:
            found = self._groups.get(env)
        if found is None:
            group = assumption_group(self.assumptions, env)
            picked = {id(a) for a in group}
            texts = tuple(
                sorted(
                    t for a, t in zip(self.assumptions, self.texts, strict=True) if id(a) in picked
                )
            )
            group_names: set[str] = set()
            for a in group:
                group_names |= names(a.expr)
            found = (texts, frozenset(group_names))
            with self._lock:
                self._groups[env] = found
        return found

    def group_texts(self, env: frozenset[str]) -> tuple[str, ...]:
        """Printed assumptions constraining ``env`` (closed under sharing names)."""
        return self._group(env)[0]

    def group_names(self, env: frozenset[str]) -> frozenset[str]:
        """Every name those assumptions mention."""
        return self._group(env)[1]


def property_text(prop: TemporalProperty) -> list[object]:
    """The canonical meaning of a property (not its name)."""
    return [
        prop.operator.value,
        to_source(prop.predicate),
        to_source(prop.trigger) if prop.trigger is not None else None,
        str(prop.time_bound_ms) if prop.time_bound_ms is not None else None,
    ]


def _frac(x: Fraction) -> str:
    return str(x)


def component_digest(st: Structure, name: str, params: Mapping[str, Fraction]) -> str:
    """SHA-256 of one component as a cone sees it: name, type, exact parameter
    values, and its neighbours (which decide its flows and drains)."""
    return canonical_hash(
        [
            name,
            st.types[name],
            sorted((k, _frac(v)) for k, v in params.items()),
            list(st.preds[name]),
            list(st.succs[name]),
        ]
    )


def key_from_digests(
    text: Sequence[object],
    st: Structure,
    support: Support,
    digests: Mapping[str, str],
    assumption_texts: Sequence[str],
    assumption_names: frozenset[str],
    settings: SolverSettings,
) -> str:
    """:func:`property_key` from precomputed :func:`component_digest` values
    (``digests[component]`` for every component of the cone), so a cache lookup
    hashes one short digest per component instead of its parameters.

    ``assumption_names``: every name the constraining assumptions mention. Their
    domains are part of the key too: what ``env.x <= env.pay_failure_rate``
    allows of ``env.x`` depends on whether ``pay`` is a service (the rate lies
    in [0, 1]) or a queue (it is free)."""
    env = sorted(support.env | assumption_names)
    return canonical_hash(
        {
            "v": MODEL_VERSION,
            "z3": Z3_VERSION,
            "bmc": settings.bmc_steps,
            "step": settings.step_ms,
            "property": list(text),
            "cone": [digests[name] for name in sorted(support.components)],
            "env": [[n, st.domain_text(n)] for n in env],
            "assumptions": sorted(assumption_texts),
        }
    )


def property_key(
    text: Sequence[object],
    st: Structure,
    support: Support,
    params: Mapping[str, Mapping[str, Fraction]],
    assumption_texts: Sequence[str],
    assumption_names: frozenset[str],
    settings: SolverSettings,
) -> str:
    """The cache key of a property given its cone (``support``), the
    parameters of the cone's components (``params[component][param]``), the
    printed assumptions that constrain the cone's environment names and every
    name they mention (:meth:`SpecInfo.group_texts`, :meth:`SpecInfo.group_names`)."""
    digests = {n: component_digest(st, n, params[n]) for n in support.components}
    return key_from_digests(
        text, st, support, digests, assumption_texts, assumption_names, settings
    )
