"""``upir patterns match`` / ``upir patterns discover``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from upir.cli.main import main
from upir.patterns import BUILTINS
from upir.patterns.generate import corpus

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_match_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path / "cb.yaml", BUILTINS[7].reference)  # circuit-breaker
    assert main(["patterns", "match", str(f), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "1. circuit-breaker (Circuit breaker): similarity 1.00" in out
    assert "roles: caller->caller, dependency->dependency" in out
    assert "2. " in out and "3. " not in out


def test_match_json_on_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "match", str(EXAMPLES / "streaming-pipeline.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["library"] == "builtin"
    (result,) = data["results"]
    assert result["upir"] == "clickstream"
    best = result["matches"][0]
    assert best["pattern"] == "streaming-batching"
    assert 0.5 < best["similarity"] <= 1.0
    assert set(best["explanation"]) == {"groups", "agreeing", "differing", "roles"}
    assert best["explanation"]["roles"]["batcher"] == "batcher"
    assert len(result["matches"]) == 3


def test_match_invalid_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: upir.dev/v1alpha1\nkind: UPIR\nmetadata: {name: x}\nspec: {}\n")
    assert main(["patterns", "match", str(bad)]) == 2
    assert "invalid" in capsys.readouterr().err
    assert main(["patterns", "match", str(tmp_path / "absent.yaml")]) == 2
    lib = tmp_path / "lib.json"
    lib.write_text("{}")
    good = _write(tmp_path / "good.yaml", BUILTINS[0].reference)
    assert main(["patterns", "match", str(good), "--library", str(lib)]) == 2
    assert "not a pattern library" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["patterns", "match", str(good), "--top", "0"])
    assert exc.value.code == 2  # argparse's usage error


def test_discover_save_and_match_against_the_discovered_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus_dir = tmp_path / "corpus"
    (corpus_dir / "nested").mkdir(parents=True)
    families = {}
    for i, (fam, doc) in enumerate(corpus(40, seed=9)):
        where = corpus_dir / ("nested" if i % 2 else "") / f"u{i}.yaml"
        families[str(where)] = fam
        _write(where, doc)
    (corpus_dir / "notes.txt").write_text("not a resource")
    lib = tmp_path / "found.json"
    assert main(["patterns", "discover", str(corpus_dir), "--json", "--save", str(lib)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["architectures"] == 40
    assert data["clusters"] >= 2
    covered = [s for p in data["patterns"] for s in p["sources"]] + data["outliers"]
    assert sorted(covered) == sorted(families)
    for p in data["patterns"]:
        assert len({families[s] for s in p["sources"]}) == 1  # no cluster mixes families
        assert p["roles"] and p["members"] == len(p["sources"])
    assert lib.exists()
    member = data["patterns"][0]["sources"][0]
    assert main(["patterns", "match", member, "--library", str(lib), "--json", "--top", "1"]) == 0
    match = json.loads(capsys.readouterr().out)["results"][0]["matches"][0]
    assert match["pattern"] == data["patterns"][0]["id"]
    assert match["similarity"] > 0.8


def test_discover_text_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "few"
    d.mkdir()
    for i, (_, doc) in enumerate(corpus(12, seed=1)):
        _write(d / f"{i}.yaml", doc)
    assert (
        main(["patterns", "discover", str(d), "--clusterer", "agglomerative", "--clusters", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "12 architectures, 3 clusters (agglomerative" in out
    assert "role " in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["patterns", "discover", str(empty)]) == 2
    assert "no UPIR resources" in capsys.readouterr().err
    assert main(["patterns", "discover", str(tmp_path / "missing")]) == 2
    (d / "broken.yaml").write_text("spec: [")
    assert main(["patterns", "discover", str(d)]) == 2
    assert "broken.yaml" in capsys.readouterr().err


def test_cli_clusterer_choices_match_the_library() -> None:
    from upir.cli.patterns import CLUSTERERS
    from upir.patterns import CLUSTERER_NAMES

    assert CLUSTERERS == CLUSTERER_NAMES
