"""`upir validate`: exit codes and one readable error naming the field (issue 2)."""

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from upir.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

BLOWUP_S = 10.0
"""Wall-clock bound that only catches a blow-up (evaluating 10**10**10, an exponential
parse of the deep parentheses): each refusal takes ~10 ms, and on a shared machine a
tighter bound fails by chance. Speed targets live in benchmarks/, not timed tests."""


def _base() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "api-service.yaml").read_text())
    return doc


def _write(tmp_path: Path, doc: Any, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def test_examples_exist_and_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(EXAMPLES) >= 3
    assert main(["validate", *map(str, EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert out.count("valid: UPIR") == len(EXAMPLES)


def _mutations() -> list[tuple[str, Any, str]]:
    cases: list[tuple[str, Any, str]] = []

    def mutate(name: str, fn: Any, needle: str) -> None:
        doc = _base()
        fn(doc)
        cases.append((name, doc, needle))

    cases.append(("yaml-error", "spec: [unclosed\n  - {a: b", "line"))
    mutate(
        "wrong-type",
        lambda d: d["spec"]["architecture"]["components"][0].__setitem__("params", "many"),
        "spec.architecture.components[0].params",
    )
    mutate(
        "unknown-component",
        lambda d: d["spec"]["architecture"]["components"][1].__setitem__("type", "database"),
        "spec.architecture.components[1].type",
    )
    mutate(
        "unknown-name",
        lambda d: d["spec"]["specification"]["properties"][0].__setitem__(
            "predicate", "gateway.latency_ms <= payments.latency_ms"
        ),
        "spec.specification.properties[0].predicate",
    )
    mutate(
        "min-gt-max",
        lambda d: d["spec"]["parameters"][0].update({"min": 500, "max": 100}),
        "spec.parameters[0]",
    )
    mutate(
        "duplicate-component",
        lambda d: d["spec"]["architecture"]["components"].append(
            copy.deepcopy(d["spec"]["architecture"]["components"][0])
        ),
        "spec.architecture.components",
    )
    mutate(
        "duplicate-property",
        lambda d: d["spec"]["specification"]["properties"].append(
            copy.deepcopy(d["spec"]["specification"]["properties"][0])
        ),
        "spec.specification",
    )
    mutate(
        "import",
        lambda d: d["spec"]["specification"]["invariants"][0].__setitem__(
            "predicate", "__import__('os').system('touch PWNED') == 0"
        ),
        "spec.specification.invariants[0].predicate",
    )
    mutate(
        "power-tower",
        lambda d: d["spec"]["specification"]["invariants"][0].__setitem__(
            "predicate", "10**10**10 > 0"
        ),
        "spec.specification.invariants[0].predicate",
    )
    mutate(
        "deep-parens",
        lambda d: d["spec"]["specification"]["invariants"][0].__setitem__(
            "predicate", "(" * 5000 + "orders.dropped" + ")" * 5000 + " == 0"
        ),
        "spec.specification.invariants[0].predicate",
    )
    return cases


@pytest.mark.parametrize(("name", "doc", "needle"), _mutations(), ids=[c[0] for c in _mutations()])
def test_bad_input_exits_2_naming_the_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    doc: Any,
    needle: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, doc)
    start = time.perf_counter()
    code = main(["validate", str(path)])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err, err
    assert "Traceback" not in err
    assert elapsed < BLOWUP_S, f"{name} took {elapsed:.2f}s"
    assert not (tmp_path / "PWNED").exists()


def test_one_bad_file_does_not_hide_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, "kind: [", "bad.yaml")
    code = main(["validate", str(bad), str(EXAMPLES[0])])
    captured = capsys.readouterr()
    assert code == 2
    assert "valid: UPIR" in captured.out and "bad.yaml: invalid" in captured.err


def test_missing_file_is_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read file" in capsys.readouterr().err
