"""``PatternLibrary``: a collection of patterns with calibrated matching, Beta
success tracking and JSON persistence.

Matching scores a UPIR against every pattern at once with the
:class:`~upir.patterns.matching.SimilarityIndex` (two ``(N, F)`` matrices), then
explains only the top ``k``. The index is rebuilt lazily after the library
changes.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from upir.core.upir import UPIR
from upir.errors import InvalidSpecError
from upir.patterns.builtin import BUILTINS
from upir.patterns.extractor import PatternExtractor
from upir.patterns.features import FloatArray, extract_features
from upir.patterns.matching import Explanation, SimilarityIndex, stack
from upir.patterns.pattern import Pattern
from upir.patterns.roles import RoleQuery, assign_roles

LIBRARY_FORMAT = "upir.dev/pattern-library"
LIBRARY_VERSION = 1
MAX_LIBRARY_BYTES = 64 << 20
"""Largest library file read, bytes (64 MiB)."""

PROVED = "PROVED"

MAX_PROOFS_PER_PATTERN = 10_000
"""Proof-cache keys remembered per pattern (oldest dropped first)."""


@dataclass(frozen=True)
class Match:
    """A pattern matched to a UPIR: ``similarity`` in ``[0, 1]`` (see
    :mod:`upir.patterns.matching` for its meaning) and what agreed and differed."""

    pattern: Pattern
    similarity: float
    explanation: Explanation

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.pattern.success.interval()
        return {
            "pattern": self.pattern.id,
            "name": self.pattern.name,
            "similarity": round(self.similarity, 4),
            "successRate": {
                "mean": round(self.pattern.success.mean, 4),
                "interval90": [round(lo, 4), round(hi, 4)],
                "successes": self.pattern.success.successes,
                "failures": self.pattern.success.failures,
            },
            "provedKeys": len(self.pattern.proofs),
            "explanation": self.explanation.to_dict(),
            "summary": self.explanation.summary(),
        }


def builtin_patterns() -> list[Pattern]:
    """The built-in patterns, each built from its reference instance."""
    extractor = PatternExtractor(seed=0)
    out = []
    for b in BUILTINS:
        upir = UPIR.from_resource(copy.deepcopy(dict(b.reference)))
        p = extractor.extract_pattern(
            [upir], pattern_id=b.id, name=b.name, description=b.description, source="builtin"
        )
        out.append(replace(p, reference=MappingProxyType(copy.deepcopy(dict(b.reference)))))
    return out


class PatternLibrary:
    """Patterns by id, in insertion order."""

    def __init__(self, patterns: Iterable[Pattern] = ()) -> None:
        self._patterns: dict[str, Pattern] = {}
        self._index: SimilarityIndex | None = None
        self._rows: list[Pattern] = []
        self._row_of: dict[str, int] = {}
        for p in patterns:
            self.add(p)

    @classmethod
    def builtin(cls) -> PatternLibrary:
        return cls(builtin_patterns())

    # -- collection -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._patterns)

    def __iter__(self) -> Iterator[Pattern]:
        return iter(list(self._patterns.values()))

    def __contains__(self, pattern_id: object) -> bool:
        return pattern_id in self._patterns

    def get(self, pattern_id: str) -> Pattern:
        try:
            return self._patterns[pattern_id]
        except KeyError:
            raise KeyError(f"no pattern {pattern_id!r} in the library") from None

    def add(self, pattern: Pattern, *, overwrite: bool = False) -> None:
        if pattern.id in self._patterns and not overwrite:
            raise ValueError(f"pattern {pattern.id!r} is already in the library")
        self._patterns[pattern.id] = pattern
        self._index = None

    def add_pattern(self, pattern: Pattern) -> None:
        """Same as :meth:`add` (the seed specification's name)."""
        self.add(pattern)

    def remove(self, pattern_id: str) -> Pattern:
        p = self.get(pattern_id)
        del self._patterns[pattern_id]
        self._index = None
        return p

    # -- matching ---------------------------------------------------------------
    def _ensure_index(self) -> SimilarityIndex:
        if self._index is None:
            self._rows = list(self._patterns.values())
            self._row_of = {p.id: i for i, p in enumerate(self._rows)}
            self._index = SimilarityIndex(
                stack([p.vector for p in self._rows]), stack([p.spread_vector for p in self._rows])
            )
        return self._index

    def similarities(self, features: FloatArray) -> dict[str, float]:
        """Similarity of a feature vector to every pattern, by pattern id."""
        index = self._ensure_index()
        sims = index.similarities(features)
        return {p.id: float(s) for p, s in zip(self._rows, sims, strict=True)}

    def match_features(self, features: FloatArray, top_k: int = 3) -> list[tuple[Pattern, float]]:
        """The ``top_k`` most similar patterns, without explanations (the fast path)."""
        index = self._ensure_index()
        return [(self._rows[i], s) for i, s in index.top(features, top_k)]

    def match(self, upir: UPIR, top_k: int = 3, *, min_similarity: float = 0.0) -> list[Match]:
        """Patterns most similar to ``upir``, best first, each with an explanation
        (per-group similarity, agreeing and differing features, and the role each
        component fills)."""
        x = extract_features(upir)
        index = self._ensure_index()
        out: list[Match] = []
        query: RoleQuery | None = None
        for row, sim in index.top(x, top_k):
            if sim < min_similarity:
                break
            pattern = self._rows[row]
            expl = index.explain(x, row)
            query = query or RoleQuery.of(upir)
            roles = MappingProxyType(assign_roles(query, pattern.roles))
            out.append(Match(pattern, sim, replace(expl, roles=roles)))
        return out

    # -- success tracking -------------------------------------------------------
    def record_outcome(self, pattern_id: str, success: bool) -> Pattern:
        """Count one verification run of an instance of the pattern."""
        p = self.get(pattern_id)
        updated = replace(p, success=p.success.update(success))
        self._update(updated)
        return updated

    def record_verdicts(self, pattern_id: str, verdicts: Mapping[str, str]) -> Pattern:
        """Count one run from its verdicts by property: a success only when there
        was at least one verdict and every one was PROVED."""
        success = bool(verdicts) and all(v == PROVED for v in verdicts.values())
        return self.record_outcome(pattern_id, success)

    def add_proofs(self, pattern_id: str, proofs: Mapping[str, str]) -> Pattern:
        """Remember proof-cache keys PROVED by an instance of the pattern (see
        :mod:`upir.patterns.reuse`). The newest ``MAX_PROOFS_PER_PATTERN`` are kept."""
        p = self.get(pattern_id)
        merged = dict(p.proofs)
        for key, proof in proofs.items():
            merged.pop(key, None)  # re-insert: most recently proved last
            merged[key] = proof
        excess = len(merged) - MAX_PROOFS_PER_PATTERN
        if excess > 0:
            for key in list(merged)[:excess]:
                del merged[key]
        updated = replace(p, proofs=MappingProxyType(merged))
        self._update(updated)
        return updated

    def _update(self, pattern: Pattern) -> None:
        """Replace a pattern whose features did not change (keeps the index)."""
        self._patterns[pattern.id] = pattern
        if self._index is not None:
            self._rows[self._row_of[pattern.id]] = pattern

    # -- persistence ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LIBRARY_FORMAT,
            "version": LIBRARY_VERSION,
            "patterns": [p.to_dict() for p in self._patterns.values()],
        }

    @classmethod
    def from_dict(cls, raw: Any, where: str = "library") -> PatternLibrary:
        if not isinstance(raw, Mapping) or raw.get("format") != LIBRARY_FORMAT:
            raise InvalidSpecError.single(
                where, f"not a pattern library (format {LIBRARY_FORMAT!r})"
            )
        if raw.get("version") != LIBRARY_VERSION:
            raise InvalidSpecError.single(
                f"{where}.version",
                f"unsupported version {raw.get('version')!r}; expected {LIBRARY_VERSION}",
            )
        items = raw.get("patterns")
        if not isinstance(items, list):
            raise InvalidSpecError.single(f"{where}.patterns", "must be a list")
        lib = cls()
        for i, item in enumerate(items):
            p = Pattern.from_dict(item, f"{where}.patterns[{i}]")
            if p.id in lib:
                raise InvalidSpecError.single(f"{where}.patterns[{i}].id", f"duplicate id {p.id!r}")
            lib.add(p)
        return lib

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the library as JSON, atomically (a reader never sees half a file)."""
        target = Path(path)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PatternLibrary:
        """Read a library written by :meth:`save`; ``InvalidSpecError`` for an
        unreadable, oversized or malformed file."""
        p = Path(path)
        where = str(path)
        try:
            size = p.stat().st_size
            if size > MAX_LIBRARY_BYTES:
                raise InvalidSpecError.single(
                    where, f"file is {size} bytes; the limit is {MAX_LIBRARY_BYTES}"
                )
            raw = json.loads(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InvalidSpecError.single(where, "file is not UTF-8 text") from None
        except json.JSONDecodeError as err:
            raise InvalidSpecError.single(
                where, f"not JSON: {err.msg} (line {err.lineno})"
            ) from None
        except OSError as err:
            raise InvalidSpecError.single(
                where, f"cannot read file: {err.strerror or err}"
            ) from None
        return cls.from_dict(raw, where)
