"""PatternLibrary: built-ins, persistence, Beta success tracking, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.patterns import BUILTINS, BetaPosterior, PatternLibrary, extract_features
from upir.patterns.generate import perturb


def test_at_least_ten_builtins_with_the_mission_patterns() -> None:
    lib = PatternLibrary.builtin()
    ids = {p.id for p in lib}
    assert len(lib) >= 10
    assert {
        "request-response",
        "bounded-work-queue",
        "streaming-batching",
        "batch-etl",
        "pubsub-fanout",
        "leader-election",
        "two-phase-commit",
        "circuit-breaker",
        "bulkhead",
        "cache-aside",
    } <= ids
    for p in lib:
        assert p.source == "builtin"
        assert p.reference is not None
        assert p.properties, p.id
        types = {r.type for r in p.roles}
        assert types <= {"service", "queue", "batcher"}
        # a reference instance loads and is its own pattern's centroid
        u = UPIR.from_resource(dict(p.reference))
        assert np.allclose(extract_features(u), p.vector)


def test_builtin_references_are_fresh_copies() -> None:
    a = BUILTINS[0].reference
    a["spec"]["architecture"]["components"][0]["params"]["retries"] = 99
    assert BUILTINS[0].reference["spec"]["architecture"]["components"][0]["params"]["retries"] != 99


def test_save_load_round_trip(tmp_path: Path) -> None:
    lib = PatternLibrary.builtin()
    lib.record_outcome("bulkhead", True)
    lib.record_outcome("bulkhead", False)
    path = tmp_path / "lib.json"
    lib.save(path)
    back = PatternLibrary.load(path)
    assert back.to_dict() == lib.to_dict()
    assert back.get("bulkhead").success == BetaPosterior(successes=1, failures=1)
    u = UPIR.from_resource(perturb(BUILTINS[3].reference, np.random.default_rng(2)))
    before = [(m.pattern.id, m.similarity) for m in lib.match(u, top_k=3)]
    after = [(m.pattern.id, m.similarity) for m in back.match(u, top_k=3)]
    assert before == after
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not JSON"),
        ('{"format": "other", "version": 1, "patterns": []}', "not a pattern library"),
        (
            '{"format": "upir.dev/pattern-library", "version": 9, "patterns": []}',
            "unsupported version",
        ),
        ('{"format": "upir.dev/pattern-library", "version": 1, "patterns": {}}', "must be a list"),
        (
            '{"format": "upir.dev/pattern-library", "version": 1, "patterns": [{"id": "x"}]}',
            "malformed",
        ),
        (
            '{"format": "upir.dev/pattern-library", "version": 1, "patterns": [7]}',
            "must be an object",
        ),
    ],
)
def test_bad_library_files_raise_invalid_spec(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidSpecError) as err:
        PatternLibrary.load(path)
    assert fragment in str(err.value)


def test_features_from_another_version_are_refused(tmp_path: Path) -> None:
    data = PatternLibrary.builtin().to_dict()
    del data["patterns"][0]["features"]["depth"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidSpecError, match="missing features depth"):
        PatternLibrary.load(path)


def test_missing_file_and_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpecError, match="cannot read"):
        PatternLibrary.load(tmp_path / "absent.json")
    data = PatternLibrary.builtin().to_dict()
    data["patterns"].append(data["patterns"][0])
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidSpecError, match="duplicate id"):
        PatternLibrary.load(path)
    lib = PatternLibrary.builtin()
    with pytest.raises(ValueError):
        lib.add(lib.get("bulkhead"))


def test_beta_posterior() -> None:
    b = BetaPosterior()
    assert b.mean == pytest.approx(0.5)
    for _ in range(8):
        b = b.update(True)
    b = b.update(False)
    assert (b.alpha, b.beta) == (9.0, 2.0)
    assert b.mean == pytest.approx(9 / 11)
    lo, hi = b.interval(0.9)
    assert 0 < lo < b.mean < hi < 1
    wide = BetaPosterior().interval(0.9)
    assert wide[1] - wide[0] > hi - lo  # evidence narrows the interval
    with pytest.raises(ValueError):
        BetaPosterior.from_dict({"priorAlpha": 0})


def test_only_all_proved_runs_count_as_successes() -> None:
    lib = PatternLibrary.builtin()
    lib.record_verdicts("cache-aside", {"a": "PROVED", "b": "PROVED"})
    lib.record_verdicts("cache-aside", {"a": "PROVED", "b": "UNKNOWN"})
    lib.record_verdicts("cache-aside", {"a": "TIMEOUT"})
    lib.record_verdicts("cache-aside", {})
    s = lib.get("cache-aside").success
    assert (s.successes, s.failures) == (1, 3)
    # the updated posterior is what matching reports
    u = UPIR.from_resource(BUILTINS[-1].reference)
    m = lib.match(u, top_k=1)[0]
    assert m.to_dict()["successRate"]["successes"] == 1


def test_remove_and_membership() -> None:
    lib = PatternLibrary.builtin()
    n = len(lib)
    removed = lib.remove("bulkhead")
    assert removed.id == "bulkhead" and "bulkhead" not in lib and len(lib) == n - 1
    with pytest.raises(KeyError):
        lib.get("bulkhead")
    lib.add_pattern(removed)
    assert "bulkhead" in lib


def test_proofs_are_kept_bounded_newest_last_and_persisted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import upir.patterns.library as library_module

    monkeypatch.setattr(library_module, "MAX_PROOFS_PER_PATTERN", 3)
    lib = PatternLibrary.builtin()
    u = UPIR.from_resource(BUILTINS[0].reference)
    before = lib.match(u, top_k=1)[0].similarity
    lib.add_proofs("request-response", {"k1": "stateless", "k2": "inductive"})
    lib.add_proofs("request-response", {"k3": "bounded:8", "k1": "stateless", "k4": "stateless"})
    assert list(lib.get("request-response").proofs) == ["k3", "k1", "k4"]
    # the index survives the update and still returns the updated pattern
    m = lib.match(u, top_k=1)[0]
    assert m.similarity == before and m.pattern.proofs == lib.get("request-response").proofs
    lib.save(tmp_path / "p.json")
    loaded = PatternLibrary.load(tmp_path / "p.json").get("request-response").proofs
    assert list(loaded.items()) == [("k3", "bounded:8"), ("k1", "stateless"), ("k4", "stateless")]
