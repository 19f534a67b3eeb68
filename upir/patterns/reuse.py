"""Pattern-based proof reuse: a new UPIR that matches a pattern reuses the
verdicts its instances already PROVED.

The verifier's proof cache keys a property by a hash of everything that can
change its verdict: the property text, its cone of influence (each component's
type, exact parameters and neighbours), the assumptions on the cone's
environment, the model and solver versions. Those keys contain component names,
so two instances of one design named differently never share a key. Here each
instance is also renamed to a *role-canonical* form: component ``k`` (by
parameters, then name) filling role ``i`` of the matched pattern becomes
``r{i}_{k}``, environment names follow. Keys of the canonical form are equal
exactly when the cones are equal up to that renaming; renaming is an
isomorphism of the model, so equal canonical keys mean equal verdicts.

:class:`ProofReuse` verifies a UPIR like this:

1. match it against the library; below ``min_similarity`` verify it plainly;
2. compute each property's key on the canonical form; for those the pattern has
   a PROVED entry for, put a PROVED result into the verifier's proof cache under
   the key the verifier will look up for the *original* UPIR;
3. run the verifier on the original UPIR (so counterexamples and messages use
   its own names); the seeded properties come back ``cached``;
4. optionally learn: add the canonical keys of what it PROVED to the pattern and
   update the pattern's Beta posterior.

Only PROVED verdicts are ever seeded, and only under a key computed by the
verifier's own :func:`~upir.verification.property_key`, so reuse can never turn
a property into PROVED that the verifier would not prove.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from upir.core.upir import UPIR
from upir.patterns.extractor import Observation
from upir.patterns.features import extract_features
from upir.patterns.library import PatternLibrary
from upir.patterns.pattern import Pattern
from upir.patterns.rename import rename_upir
from upir.patterns.roles import assign_roles
from upir.settings import SolverSettings
from upir.verification import (
    ProofCache,
    Structure,
    Verdict,
    VerificationReport,
    VerificationResult,
    Verifier,
    property_key,
)
from upir.verification.cache import SpecInfo, property_text

REUSE_METHOD = "pattern"
"""``VerificationResult.method`` of a verdict taken from a pattern's proofs."""


def canonical_mapping(upir: UPIR, pattern: Pattern) -> dict[str, str]:
    """Component name -> canonical name: ``r{i}_{k}`` for the k-th filler (by
    parameter values, then name) of the pattern's role ``i``; ``u{k}`` for
    components no role of their type fits."""
    roles = assign_roles(upir, pattern.roles)
    index = {r.name: i for i, r in enumerate(pattern.roles)}
    groups: dict[str, list[str]] = {}
    for comp, role in roles.items():
        groups.setdefault("u" if role is None else f"r{index[role]}", []).append(comp)

    def order(name: str) -> tuple[tuple[tuple[str, Fraction], ...], str]:
        params = upir.architecture.component(name).effective_params()
        return (tuple(sorted(params.items())), name)

    out: dict[str, str] = {}
    for prefix, comps in groups.items():
        for k, comp in enumerate(sorted(comps, key=order)):
            out[comp] = f"{prefix}_{k}"
    return out


def canonicalize(upir: UPIR, pattern: Pattern) -> UPIR:
    """``upir`` with its components renamed by :func:`canonical_mapping`."""
    return rename_upir(upir, canonical_mapping(upir, pattern))


def proof_keys(upir: UPIR, settings: SolverSettings) -> dict[str, str]:
    """Property name -> the key the verifier's proof cache files its verdict
    under (for invariants, properties and constraints alike)."""
    st = Structure(upir.architecture)
    info = SpecInfo(upir.specification.assumptions)
    comps = {c.name: c for c in upir.architecture.components}
    out: dict[str, str] = {}
    for prop in upir.specification.all_properties():
        support = st.expr_support([prop.predicate, prop.trigger])
        params = {n: comps[n].effective_params() for n in support.components}
        out[prop.name] = property_key(
            property_text(prop),
            st,
            support,
            params,
            info.group_texts(support.env),
            info.group_names(support.env),
            settings,
        )
    return out


def observe(upir: UPIR, report: VerificationReport) -> Observation:
    """A corpus member for :class:`~upir.patterns.extractor.PatternExtractor`
    with its verdicts, so discovered patterns count what their members PROVED."""
    return Observation(upir, {r.property.name: r.status.value for r in report.results})


@dataclass(frozen=True)
class ReuseOutcome:
    """One verification through :class:`ProofReuse`.

    ``report`` is the verifier's report for the UPIR as given. ``pattern_id``
    and ``similarity`` name the pattern matched (``None``: nothing close enough).
    ``reusable`` counts properties whose canonical key the pattern had PROVED
    before this run; ``reused`` those the verifier then answered from the cache
    (normally equal); ``total`` counts every property checked."""

    report: VerificationReport
    pattern_id: str | None
    similarity: float
    reusable: int
    reused: int
    total: int

    @property
    def rate(self) -> float:
        """Share of the properties answered from the pattern's proofs."""
        return self.reused / self.total if self.total else 0.0


class ProofReuse:
    """Verifies UPIRs through a verifier, reusing the proofs of matched patterns.

    ``verifier`` must have a proof cache (reuse goes through it).
    ``min_similarity`` is the match needed to use a pattern at all (reuse is
    sound at any similarity; a weak match just rarely has matching keys).
    ``learn`` adds each run's proved keys to the matched pattern and counts the
    run in its Beta posterior."""

    def __init__(
        self,
        verifier: Verifier,
        library: PatternLibrary,
        *,
        min_similarity: float = 0.5,
        learn: bool = True,
    ) -> None:
        if verifier.cache is None:
            raise ValueError("proof reuse needs a verifier with a proof cache")
        self.verifier = verifier
        self.cache: ProofCache = verifier.cache
        self.library = library
        self.min_similarity = min_similarity
        self.learn = learn

    def verify(self, upir: UPIR) -> ReuseOutcome:
        # scores only: the explanation a user reads is not needed here
        best = self.library.match_features(extract_features(upir), top_k=1)
        total = len(upir.specification.all_properties())
        if not best or best[0][1] < self.min_similarity:
            report = self.verifier.verify(upir)
            return ReuseOutcome(report, None, best[0][1] if best else 0.0, 0, 0, total)
        pattern, similarity = best[0]
        settings = self.verifier.settings
        canonical = canonicalize(upir, pattern)
        canon_keys = proof_keys(canonical, settings)
        own_keys = proof_keys(upir, settings)
        seeded: set[str] = set()
        for prop in upir.specification.all_properties():
            proof = pattern.proofs.get(canon_keys[prop.name])
            if proof is None:
                continue
            seeded.add(prop.name)
            key = own_keys[prop.name]
            if self.cache.get(key) is None:
                self.cache.put(
                    key,
                    VerificationResult(
                        prop,
                        Verdict.PROVED,
                        proof=proof,
                        method=REUSE_METHOD,
                        message=f"reused from pattern {pattern.id} (same cone up to role renaming)",
                    ),
                )
        report = self.verifier.verify(upir)
        reused = sum(1 for r in report.results if r.cached and r.property.name in seeded)
        if self.learn:
            self._learn(pattern.id, report, canon_keys)
        return ReuseOutcome(report, pattern.id, similarity, len(seeded), reused, total)

    def _learn(self, pattern_id: str, report: VerificationReport, keys: Mapping[str, str]) -> None:
        proved = {
            keys[r.property.name]: r.proof or "stateless"
            for r in report.results
            if r.status is Verdict.PROVED and r.property.name in keys
        }
        if proved:
            self.library.add_proofs(pattern_id, proved)
        self.library.record_verdicts(
            pattern_id, {r.property.name: r.status.value for r in report.results}
        )

    def seed_pattern(self, pattern_id: str, instance: UPIR) -> int:
        """Verify one instance (a pattern's reference, say) and remember what it
        PROVED under the pattern; returns how many properties were PROVED."""
        pattern = self.library.get(pattern_id)
        canonical = canonicalize(instance, pattern)
        report = self.verifier.verify(instance)
        self._learn(pattern_id, report, proof_keys(canonical, self.verifier.settings))
        return sum(1 for r in report.results if r.status is Verdict.PROVED)
