"""load_documents: safe YAML/JSON reading with clear, positioned errors."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upir.errors import InvalidSpecError
from upir.resource import (
    MAX_DOCUMENT_BYTES,
    MAX_NODES,
    field_line,
    load_documents,
    schema_issues,
)

BLOWUP_S = 10.0
"""Wall-clock bound that only catches a blow-up (an expansion or a recursion
that would run for minutes), not slowness: refusing takes milliseconds, but on
a shared machine a tighter bound fails by chance. Speed lives in benchmarks/."""


def error_of(text: str) -> tuple[str, int | None]:
    with pytest.raises(InvalidSpecError) as caught:
        load_documents(text, source="f.yaml")
    (issue,) = caught.value.issues
    assert issue.field == "f.yaml"
    return issue.message, issue.position


def test_design_example_loads(doc: dict[str, object]) -> None:
    assert doc["kind"] == "UPIR"


def test_multiple_documents_and_empty_ones() -> None:
    text = "---\na: 1\n---\n---\n# only a comment\n---\nb: [x, 2, 2.5, true, null]\n"
    assert load_documents(text, source="f") == [{"a": 1}, {"b": ["x", 2, 2.5, True, None]}]


def test_json_and_flow_yaml() -> None:
    assert load_documents('{"a": {"b": [1, 2.5e3]}}', source="f") == [{"a": {"b": [1, 2500.0]}}]
    assert load_documents("{a: 1, b: [x]}", source="f") == [{"a": 1, "b": ["x"]}]


def test_kubectl_list_is_expanded() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- {kind: UPIR, a: 1}\n- {kind: UPIR, b: 2}\n"
    assert load_documents(text, source="f") == [{"kind": "UPIR", "a": 1}, {"kind": "UPIR", "b": 2}]


def test_timestamps_stay_strings_and_bom_is_ignored() -> None:
    assert load_documents("\ufeffa: 2026-01-31\nb: 2026-01-31T12:00:00Z\n", source="f") == [
        {"a": "2026-01-31", "b": "2026-01-31T12:00:00Z"}
    ]


def test_aliases_are_expanded_into_independent_copies() -> None:
    text = "p: &p {replicas: 2}\na: {params: *p}\nb: {params: *p}\n"
    (doc,) = load_documents(text, source="f")
    assert doc == {
        "p": {"replicas": 2},
        "a": {"params": {"replicas": 2}},
        "b": {"params": {"replicas": 2}},
    }
    doc["a"]["params"]["replicas"] = 5
    assert doc["b"]["params"]["replicas"] == 2 and doc["p"]["replicas"] == 2


def test_merge_keys() -> None:
    text = "base: &b {x: 1, y: 2}\nother: &o {y: 9, z: 3}\nc:\n  <<: [*b, *o]\n  y: 7\n"
    assert load_documents(text, source="f")[0]["c"] == {"x": 1, "y": 7, "z": 3}


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("a: b: c\n", "YAML syntax error at line 1, column 5: mapping values are not allowed in this context", 4),
        ("a:\n  - b\n c: d\n", "YAML syntax error at line 3, column 2: did not find expected key", 10),
        ('{"a": 1,, }', "JSON syntax error at line 1, column 9: Expecting property name enclosed in double quotes", None),
        ("spec:\n  a: 1\n  a: 2\n", "line 3, column 3: duplicate key 'a' in one mapping", 15),
        ('{"a": 1, "a": 2}', "duplicate key 'a' in one object", None),
        ("on: 1\n", "line 1, column 1: mapping key true is not a string; quote it", 0),
        ("a:\n  1: x\n", "line 2, column 3: mapping key 1 is not a string; quote it", 5),
        ("a: !!binary aGVsbG8=\n", "line 1, column 4: the YAML tag !!binary is not supported; use plain JSON "
         "values (mappings, lists, strings, numbers, true/false, null)", 3),
        ("a: !!python/object:os.system x\n", "line 1, column 4: the YAML tag !!python/object:os.system is not "
         "supported; use plain JSON values (mappings, lists, strings, numbers, true/false, null)", 3),
        ("a: !!set {x}\n", "line 1, column 4: the YAML tag !!set is not supported; use plain JSON values "
         "(mappings, lists, strings, numbers, true/false, null)", 3),
        ("a: .inf\n", "line 1, column 4: .inf is not a JSON number", 3),
        ('{"a": NaN}', "NaN is not a JSON number", None),
        ("a: 1" + "0" * 5000 + "\n", "line 1, column 4: a number may have at most 100 characters", 3),
        ("a: *nothing\n", "line 1, column 4: unknown alias *nothing", 3),
        ("a: &a [1, *a]\n", "line 1, column 11: alias *a refers to the node that contains it", 10),
        ("a: \x07\n", "character #x0007 at offset 3 is not allowed: control characters are not allowed", 3),
        ("", "is empty: no YAML or JSON document in it", None),
        ("# nothing here\n---\n", "is empty: no YAML or JSON document in it", None),
        ("- a\n- b\n", "the document is a list, not a mapping (a Kubernetes object with apiVersion, kind, "
         "metadata and spec)", None),
        ("just text", "the document is 'just text', not a mapping (a Kubernetes object with apiVersion, kind, "
         "metadata and spec)", None),
    ],
)  # fmt: skip
def test_bad_files(text: str, message: str, position: int | None) -> None:
    assert error_of(text) == (message, position)


def test_every_bad_document_is_listed() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        load_documents("a: 1\n---\n- x\n---\n3\n", source="f")
    assert [i.message.split(",")[0] for i in caught.value.issues] == [
        "document 2 is a list",
        "document 3 is 3",
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    # "billion laughs": 10 levels of 9 aliases each would expand to 10**9 nodes
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    start = time.perf_counter()
    message, position = error_of("\n".join(lines) + "\n")
    assert time.perf_counter() - start < BLOWUP_S
    assert message.endswith(
        f"more than {MAX_NODES} YAML nodes (aliases expanded); refusing to load"
    )
    assert message.startswith("line 5, column") and position is not None  # l4 is 9**5 nodes


def test_deep_nesting_is_refused() -> None:
    for text in (
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        "a: " + "[" * 100 + "]" * 100,
    ):
        start = time.perf_counter()
        message, _ = error_of(text)
        assert "nesting is deeper than 64 levels" in message
        assert time.perf_counter() - start < BLOWUP_S


def test_huge_file_is_refused_unparsed() -> None:
    start = time.perf_counter()
    message, _ = error_of("a: " + "x" * MAX_DOCUMENT_BYTES)
    assert (
        message
        == f"is {MAX_DOCUMENT_BYTES + 3} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes (1 MiB)"
    )
    assert time.perf_counter() - start < BLOWUP_S
    # the limit counts bytes, not characters
    message, _ = error_of("a: " + "é" * (MAX_DOCUMENT_BYTES // 2))
    assert message.startswith(f"is {MAX_DOCUMENT_BYTES + 3} bytes")


def test_too_many_nodes_without_aliases() -> None:
    message, _ = error_of("[" + ", ".join(["1"] * (MAX_NODES + 1)) + "]")
    assert message == f"more than {MAX_NODES} JSON values; refusing to load"
    message, _ = error_of("- 1\n" * (MAX_NODES + 1))
    assert message.endswith(
        f"more than {MAX_NODES} YAML nodes (aliases expanded); refusing to load"
    )


def test_maximal_document_loads_and_validates_in_time(make_big_doc: object) -> None:
    import json

    import yaml

    big = make_big_doc()  # type: ignore[operator]
    text = yaml.safe_dump(big, sort_keys=False)
    start = time.perf_counter()
    (loaded,) = load_documents(text, source="big.yaml")
    assert schema_issues(loaded) == []
    elapsed = time.perf_counter() - start
    assert loaded == big
    assert load_documents(json.dumps(big), source="big.json") == [big]
    assert elapsed < BLOWUP_S, f"load + validate took {elapsed:.2f}s"  # ~35 ms; ~9,400 nodes


def test_text_is_required() -> None:
    with pytest.raises(InvalidSpecError, match="expected text, got a bytes"):
        load_documents(b"a: 1", source="f")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab:-[]{},&*!#'\"\n\t |>?%@`.0123456789xyz")), max_size=60
    )
)
def test_random_text_never_raises_anything_else(text: str) -> None:
    try:
        docs = load_documents(text, source="fuzz")
    except InvalidSpecError as err:
        assert all(i.field == "fuzz" and i.message for i in err.issues)
        return
    assert docs and all(isinstance(d, dict) for d in docs)
    for d in docs:
        schema_issues(d)


FIELD_TEXT = """\
# a comment
apiVersion: upir.dev/v1alpha1
kind: UPIR
spec:
  specification:
    invariants:
      - {name: a, operator: ALWAYS, predicate: "x.y == 0"}
    properties:
      - name: b
        operator: ALWAYS
        predicate: "x.y <= 1"
    constraints:
      cost: {max: 40}
---
kind: UPIR
spec: {parameters: [{name: x.y}]}
"""


@pytest.mark.parametrize(
    ("field", "document", "line"),
    [
        ("spec.specification.invariants[0]", 0, 7),
        ("spec.specification.properties[0]", 0, 9),
        ("spec.specification.properties[0].predicate", 0, 11),
        ("spec.specification.constraints.cost", 0, 13),
        ("spec.specification.constraints.cost.max", 0, 13),
        ("kind", 0, 3),
        ("spec.parameters[0].name", 1, 16),
        ("spec.specification.properties[3]", 0, None),
        ("spec.nothing", 0, None),
        ("kind", 2, None),
    ],
)
def test_field_line(field: str, document: int, line: int | None) -> None:
    assert field_line(FIELD_TEXT, field, document=document) == line


def test_field_line_in_json_and_unparsable_text() -> None:
    assert field_line('{\n "kind": "UPIR",\n "spec": {\n  "x": 1}}', "spec.x") == 4
    assert field_line("spec: [", "spec") is None
