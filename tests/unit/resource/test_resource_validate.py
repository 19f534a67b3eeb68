"""schema_issues: valid documents pass, each bad input names its field in plain English."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upir.errors import FieldIssue
from upir.resource import schema_issues, status_issues
from upir.resource.validate import MAX_ISSUES

Doc = dict[str, Any]

BLOWUP_S = 10.0
"""Wall-clock bound that only catches a blow-up: a maximal document validates in
~15 ms; a backtracking regex, or redoing per-entry work for each pair of its ~1,150
entries, would take 15 s or more. On a shared machine a tighter bound fails by
chance; speed targets live in benchmarks/ and docs/benchmarks.md, not timed tests."""


def pairs(doc: object, engine: str = "python") -> list[tuple[str, str]]:
    found = schema_issues(doc, engine=engine)  # type: ignore[arg-type]
    assert all(isinstance(i, FieldIssue) for i in found)
    return [(i.field, i.message) for i in found]


def test_design_example_is_valid(doc: Doc) -> None:
    assert schema_issues(doc) == []


def test_full_status_is_valid(doc: Doc, status_example: Doc) -> None:
    doc["status"] = status_example
    assert schema_issues(doc) == []


def test_status_alone(status_example: Doc) -> None:
    assert status_issues(status_example) == []
    status_example["certificate"]["signer"] = "me"
    status_example["verdicts"][0]["status"] = "PASSED"
    assert [(i.field, i.message) for i in status_issues(status_example)] == [
        (
            "status.verdicts[0].status",
            "must be one of PROVED, VIOLATED, UNKNOWN, TIMEOUT, ERROR (got 'PASSED')",
        ),
        (
            "status.certificate.signer",
            "unknown field (known: payload, signature, keyId, algorithm, publicKey)",
        ),
    ]
    assert [(i.field, i.message) for i in status_issues(["x"])] == [
        ("status", "must be a mapping (got a list)")
    ]


def test_cel_engine_agrees_on_the_valid_example(doc: Doc) -> None:
    assert schema_issues(doc, engine="cel") == []


def _spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]
    return spec


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation that sets a dotted/indexed path (e.g. spec.parameters[0].min)."""

    def mutate(doc: Doc) -> None:
        node: Any = doc
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return mutate


def _drop(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        node: Any = doc
        parts = path.replace("[", ".[").split(".")
        for part in parts[:-1]:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        del node[parts[-1]]

    return mutate


def _append(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        node: Any = doc
        for part in path.replace("[", ".[").split("."):
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        node.append(value)

    return mutate


COMPS = "spec.architecture.components"
PARAMS = "spec.parameters"
PROPS = "spec.specification.properties"
INVS = "spec.specification.invariants"

BAD_INPUTS: list[tuple[str, Callable[[Doc], None], str, str]] = [
    # (id, mutation, expected field, expected message)
    (
        "unknown component type",
        _set(f"{COMPS}[1].type", "database"),
        f"{COMPS}[1].type",
        "must be one of service, queue, batcher (got 'database')",
    ),
    (
        "missing component type",
        _drop(f"{COMPS}[0].type"),
        f"{COMPS}[0].type",
        "is required (one of service, queue, batcher)",
    ),
    ("null counts as missing", _set(f"{COMPS}[0].name", None), f"{COMPS}[0].name", "is required"),
    (
        "param not a number",
        _set(f"{COMPS}[0].params.replicas", "three"),
        f"{COMPS}[0].params.replicas",
        "must be a number (got 'three')",
    ),
    (
        "bool is not a number",
        _set(f"{COMPS}[0].params.replicas", True),
        f"{COMPS}[0].params.replicas",
        "must be a number (got true)",
    ),
    (
        "nan",
        _set(f"{COMPS}[0].params.replicas", float("nan")),
        f"{COMPS}[0].params.replicas",
        "must be a finite number (got NaN)",
    ),
    (
        "component name pattern",
        _set(f"{COMPS}[0].name", "Gateway-1"),
        f"{COMPS}[0].name",
        "must be a lowercase identifier of at most 63 characters: a letter, then letters, digits or '_' "
        "(it is used in expressions as <component>.<param>) (got 'Gateway-1')",
    ),
    (
        "component name too long",
        _set(f"{COMPS}[0].name", "g" * 64),
        f"{COMPS}[0].name",
        "must be at most 63 characters (got 64)",
    ),
    (
        "reserved component name",
        _set(f"{COMPS}[0].name", "env"),
        f"{COMPS}[0].name",
        "'env' is reserved for expressions (env.*, system.*); pick another name",
    ),
    (
        "duplicate component names",
        _append(COMPS, {"name": "gateway", "type": "queue"}),
        f"{COMPS}[2].name",
        "duplicate name 'gateway' (already used at index 0)",
    ),
    (
        "components not a list",
        _set(COMPS, {"gateway": {}}),
        COMPS,
        "must be a list (got a mapping)",
    ),
    ("no components", _set(COMPS, []), COMPS, "must have at least 1 item"),
    (
        "too many components",
        _set(COMPS, [{"name": f"c{i}", "type": "queue"} for i in range(257)]),
        COMPS,
        "must have at most 256 items (got 257)",
    ),
    (
        "params a list",
        _set(f"{COMPS}[0].params", [3]),
        f"{COMPS}[0].params",
        "must be a mapping (got a list)",
    ),
    (
        "unknown connection from",
        _append("spec.architecture.connections", {"from": "nowhere", "to": "orders"}),
        "spec.architecture.connections",
        "connection from 'nowhere': no component has that name",
    ),
    (
        "unknown connection to",
        _append("spec.architecture.connections", {"from": "gateway", "to": "nowhere"}),
        "spec.architecture.connections",
        "connection to 'nowhere': no component has that name",
    ),
    (
        "self connection",
        _append("spec.architecture.connections", {"from": "orders", "to": "orders"}),
        "spec.architecture.connections[1].to",
        "a component cannot connect to itself (orders)",
    ),
    (
        "connection missing to",
        _append("spec.architecture.connections", {"from": "orders"}),
        "spec.architecture.connections[1].to",
        "is required",
    ),
    (
        "parameter min > max",
        _set(f"{PARAMS}[0].min", 5000),
        f"{PARAMS}[0].min",
        "min (5000) must be <= max (2000)",
    ),
    (
        "parameter min > max with fractions",
        _set(f"{PARAMS}[1].min", 7.5),
        f"{PARAMS}[1].min",
        "min (7.5) must be <= max (5)",
    ),
    (
        "step larger than range",
        _set(f"{PARAMS}[1].step", 50),
        f"{PARAMS}[1].step",
        "step (50) must be <= max - min (5)",
    ),
    ("step zero", _set(f"{PARAMS}[0].step", 0), f"{PARAMS}[0].step", "must be > 0 (got 0)"),
    ("parameter missing max", _drop(f"{PARAMS}[2].max"), f"{PARAMS}[2].max", "is required"),
    (
        "parameter name shape",
        _set(f"{PARAMS}[0].name", "timeout_ms"),
        f"{PARAMS}[0].name",
        "must be <component>.<param>, e.g. gateway.timeout_ms (got 'timeout_ms')",
    ),
    (
        "duplicate parameters",
        _append(PARAMS, {"name": "gateway.retries", "min": 0, "max": 1}),
        f"{PARAMS}[3].name",
        "duplicate name 'gateway.retries' (already used at index 1)",
    ),
    (
        "WITHIN without timeBoundMs",
        _drop(f"{PROPS}[0].timeBoundMs"),
        f"{PROPS}[0].timeBoundMs",
        "WITHIN needs timeBoundMs (the time bound, in ms)",
    ),
    (
        "timeBoundMs on ALWAYS",
        _set(f"{PROPS}[1].timeBoundMs", 10),
        f"{PROPS}[1].timeBoundMs",
        "only WITHIN takes timeBoundMs (operator is ALWAYS)",
    ),
    (
        "timeBoundMs zero",
        _set(f"{PROPS}[0].timeBoundMs", 0),
        f"{PROPS}[0].timeBoundMs",
        "must be > 0 (got 0)",
    ),
    (
        "UNTIL without trigger",
        _drop(f"{PROPS}[2].trigger"),
        f"{PROPS}[2].trigger",
        "UNTIL needs a trigger predicate (predicate UNTIL trigger)",
    ),
    (
        "trigger on EVENTUALLY",
        _append(
            PROPS, {"name": "e", "operator": "EVENTUALLY", "predicate": "true", "trigger": "true"}
        ),
        f"{PROPS}[3].trigger",
        "only UNTIL and SINCE take a trigger (operator is EVENTUALLY)",
    ),
    (
        "unknown operator",
        _set(f"{PROPS}[1].operator", "NEVER"),
        f"{PROPS}[1].operator",
        "must be one of ALWAYS, EVENTUALLY, WITHIN, UNTIL, SINCE (got 'NEVER')",
    ),
    (
        "invariant not ALWAYS",
        _set(f"{INVS}[0].operator", "EVENTUALLY"),
        f"{INVS}[0].operator",
        "invariants must be ALWAYS (got EVENTUALLY); list other temporal properties under properties",
    ),
    (
        "predicate too long",
        _set(f"{PROPS}[1].predicate", "x" * 2001),
        f"{PROPS}[1].predicate",
        "must be at most 2000 characters (got 2001)",
    ),
    (
        "empty predicate",
        _set(f"{PROPS}[1].predicate", ""),
        f"{PROPS}[1].predicate",
        "must not be empty",
    ),
    (
        "predicate not a string",
        _set(f"{PROPS}[1].predicate", 3),
        f"{PROPS}[1].predicate",
        "must be a string (got 3)",
    ),
    (
        "property name used twice",
        _append(PROPS, {"name": "no_loss", "operator": "ALWAYS", "predicate": "true"}),
        "spec.specification.properties",
        "'no_loss' names both an invariant and a property; property names must be unique",
    ),
    (
        "availability above 1",
        _set("spec.specification.constraints.availability.min", 1.5),
        "spec.specification.constraints.availability.min",
        "must be <= 1 (got 1.5)",
    ),
    (
        "constraint min > max",
        _set("spec.specification.constraints.cost", {"min": 50, "max": 40}),
        "spec.specification.constraints.cost.min",
        "min (50) must be <= max (40)",
    ),
    (
        "constraint without bounds",
        _set("spec.specification.constraints.cost", {}),
        "spec.specification.constraints.cost",
        "set min, max or both",
    ),
    (
        "unknown constraint",
        _set("spec.specification.constraints.latency", {"max": 3}),
        "spec.specification.constraints.latency",
        "unknown field; did you mean 'latency_ms'?",
    ),
    (
        "system type",
        _set("spec.systemType", "web"),
        "spec.systemType",
        "must be one of streaming, batch, api (got 'web')",
    ),
    (
        "mode unquoted Off",
        _set("spec.tuning.mode", False),
        "spec.tuning.mode",
        "must be one of Off, Recommend, Auto (got false; YAML reads an unquoted Off as false: write 'Off' in quotes)",
    ),
    (
        "interval too short",
        _set("spec.tuning.intervalSeconds", 1),
        "spec.tuning.intervalSeconds",
        "must be >= 5 (got 1)",
    ),
    (
        "interval fractional",
        _set("spec.tuning.intervalSeconds", 7.5),
        "spec.tuning.intervalSeconds",
        "must be a whole number (got 7.5)",
    ),
    (
        "maxStepFraction above 1",
        _set("spec.tuning.maxStepFraction", 1.5),
        "spec.tuning.maxStepFraction",
        "must be <= 1 (got 1.5)",
    ),
    (
        "learner.model not a boolean",
        _set("spec.tuning.learner", {"model": "yes"}),
        "spec.tuning.learner.model",
        "must be true or false (got 'yes')",
    ),
    (
        "learner: unknown override",
        _set("spec.tuning.learner", {"policy": "shared"}),
        "spec.tuning.learner.policy",
        "unknown field (known: model)",
    ),
    (
        "maxStepFraction zero",
        _set("spec.tuning.maxStepFraction", 0),
        "spec.tuning.maxStepFraction",
        "must be > 0 (got 0)",
    ),
    (
        "prometheus url",
        _set("spec.tuning.prometheus.url", "prometheus:9090"),
        "spec.tuning.prometheus.url",
        "must be an http:// or https:// URL (got 'prometheus:9090')",
    ),
    (
        "typo in field",
        _set("spec.tuning.intervalSecond", 60),
        "spec.tuning.intervalSecond",
        "unknown field; did you mean 'intervalSeconds'?",
    ),
    (
        "unknown spec field",
        _set("spec.extra", 1),
        "spec.extra",
        "unknown field (known: systemType, target, architecture, specification, parameters, tuning)",
    ),
    (
        "odd key in path",
        _set("spec.tuning.objective", {"p99 ms": "x"}),
        'spec.tuning.objective["p99 ms"]',
        "must be a number (got 'x')",
    ),
    (
        "target name",
        _set("spec.target.deployment", "Checkout"),
        "spec.target.deployment",
        "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter "
        "or digit (got 'Checkout')",
    ),
    ("spec not a mapping", _set("spec", ["x"]), "spec", "must be a mapping (got a list)"),
    ("spec missing", _drop("spec"), "spec", "is required"),
    ("architecture missing", _drop("spec.architecture"), "spec.architecture", "is required"),
    ("apiVersion", _set("apiVersion", "v1"), "apiVersion", "must be upir.dev/v1alpha1 (got 'v1')"),
    ("kind", _set("kind", "Deployment"), "kind", "must be UPIR (got 'Deployment')"),
    ("kind missing", _drop("kind"), "kind", "is required (UPIR)"),
    ("name missing", _set("metadata", {"namespace": "default"}), "metadata.name", "is required"),
    (
        "name shape",
        _set("metadata.name", "Check.out"),
        "metadata.name",
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit "
        "(got 'Check.out')",
    ),
    (
        "namespace shape",
        _set("metadata.namespace", "Prod"),
        "metadata.namespace",
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit "
        "(got 'Prod')",
    ),
    ("non-string key", _set("spec.tuning", {1: 2}), "spec.tuning", "keys must be strings (got 1)"),
    (
        "status verdict",
        _set("status", {"verdict": "Passed"}),
        "status.verdict",
        "must be one of PROVED, VIOLATED, ERROR, TIMEOUT, UNKNOWN, INVALID (got 'Passed')",
    ),
    (
        "status condition",
        _set(
            "status",
            {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "Yes",
                        "reason": "AllProved",
                        "message": "",
                        "lastTransitionTime": "2026-01-31T12:00:00Z",
                    }
                ]
            },
        ),
        "status.conditions[0].status",
        "must be one of True, False, Unknown (got 'Yes')",
    ),
    (
        "status time",
        _set("status", {"lastVerifiedTime": "yesterday"}),
        "status.lastVerifiedTime",
        "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z (got 'yesterday')",
    ),
    (
        "status counter",
        _set("status", {"tuning": {"accepted": -1}}),
        "status.tuning.accepted",
        "must be >= 0 (got -1)",
    ),
    (
        "status int64",
        _set("status", {"observedGeneration": 2**64}),
        "status.observedGeneration",
        "must fit in 64 bits (got 18446744073709551616)",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "message"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_names_field_and_problem(
    doc: Doc, mutate: Callable[[Doc], None], field: str, message: str
) -> None:
    mutate(doc)
    found = pairs(doc)
    assert (field, message) in found, found
    # one problem, one issue (the rules of a node only run once its shape is right)
    assert len(found) == 1, found
    # the CEL engine (cel-python running the CRD's own rules) reports exactly the same
    assert pairs(doc, engine="cel") == found


def test_several_problems_are_all_reported(doc: Doc) -> None:
    _spec(doc)["parameters"][0]["min"] = 5000
    _spec(doc)["architecture"]["components"][1]["type"] = "db"
    _spec(doc)["systemType"] = "web"
    fields = [f for f, _ in pairs(doc)]
    assert fields == ["spec.systemType", f"{COMPS}[1].type", f"{PARAMS}[0].min"]


def test_rules_of_a_node_wait_for_its_shape(doc: Doc) -> None:
    # min is not a number: report that, and do not also evaluate min <= max on it
    _spec(doc)["parameters"][0]["min"] = "5000"
    assert pairs(doc) == [(f"{PARAMS}[0].min", "must be a number (got '5000')")]


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (None, "null"),
        ([1], "a list"),
        ("spec", "'spec'"),
        (3.5, "3.5"),
        (b"x", "a bytes"),
        (True, "true"),
    ],
)
def test_non_mapping_documents(value: object, described: str) -> None:
    assert pairs(value) == [
        (
            "document",
            f"must be a mapping with apiVersion, kind, metadata and spec (got {described})",
        )
    ]


def test_empty_mapping_lists_what_is_missing() -> None:
    assert pairs({}) == [
        ("apiVersion", "is required (upir.dev/v1alpha1)"),
        ("kind", "is required (UPIR)"),
        ("metadata", "is required (with a name)"),
        ("spec", "is required"),
    ]


def test_long_strings_are_shortened_in_messages(doc: Doc) -> None:
    _spec(doc)["systemType"] = "s" * 100_000
    ((field, message),) = pairs(doc)
    assert field == "spec.systemType"
    assert message.endswith("... (100000 characters))")
    assert len(message) < 200


def test_too_many_problems_are_cut(doc: Doc) -> None:
    _spec(doc)["architecture"]["components"] = [{"name": "C", "type": "x"} for _ in range(200)]
    found = pairs(doc)
    assert len(found) == MAX_ISSUES + 1
    assert found[-1] == ("document", f"too many problems; only the first {MAX_ISSUES} are listed")


def test_documents_at_the_size_limits_are_valid_and_fast(make_big_doc: Callable[[], Doc]) -> None:
    big = make_big_doc()
    schema_issues(big)  # warm the regex caches
    start = time.perf_counter()
    assert schema_issues(big) == []
    elapsed = time.perf_counter() - start
    assert elapsed < BLOWUP_S, f"schema_issues took {elapsed:.3f}s on a maximal document"


def test_input_is_not_modified(doc: Doc) -> None:
    import copy

    _spec(doc)["parameters"][0]["step"] = None
    before = copy.deepcopy(doc)
    schema_issues(doc)
    schema_issues(doc, engine="cel")
    assert doc == before


def test_hostile_shapes_do_not_raise(doc: Doc) -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    cyclic: Doc = {}
    cyclic["self"] = cyclic
    for hostile in (deep, cyclic, {"spec": deep}, {(1, 2): 3}, {"spec": {"architecture": cyclic}}):
        assert schema_issues(hostile)
    _spec(doc)["tuning"]["objective"] = cyclic
    _spec(doc)["architecture"]["components"][0]["params"] = {"x": deep}
    doc["status"] = {
        "kopf": cyclic,
        "verdicts": [{"property": "p", "status": "PROVED", "counterexample": deep}],
    }
    found = pairs(doc)
    assert (f"{COMPS}[0].params.x", "must be a number (got a list)") in found


# ------------------------------------------------------------------ hypothesis

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "service",
            "queue",
            "ALWAYS",
            "WITHIN",
            "Off",
            "gateway",
            "gateway.retries",
            "upir.dev/v1alpha1",
            "UPIR",
        ]
    ),
)
json_keys = st.one_of(
    st.sampled_from(
        [
            "apiVersion",
            "kind",
            "metadata",
            "name",
            "spec",
            "status",
            "architecture",
            "components",
            "type",
            "params",
            "connections",
            "from",
            "to",
            "specification",
            "properties",
            "invariants",
            "operator",
            "predicate",
            "trigger",
            "timeBoundMs",
            "parameters",
            "min",
            "max",
            "step",
            "tuning",
            "mode",
            "constraints",
            "conditions",
        ]
    ),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(json_keys, children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_documents_never_raise(value: object) -> None:
    found = schema_issues(value)
    assert isinstance(found, list)
    assert all(isinstance(i, FieldIssue) and i.field and i.message for i in found)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_random_edits_of_a_valid_document_never_raise(doc: Doc, data: st.DataObject) -> None:
    import copy

    work = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = work
        # walk down a random path, then replace what is there
        while isinstance(node, dict | list) and node and data.draw(st.booleans()):
            key = data.draw(
                st.sampled_from(
                    list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
                )
            )
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict) and node:
            node[data.draw(st.sampled_from(list(node.keys())))] = data.draw(json_values)
        elif isinstance(node, list) and node:
            node[data.draw(st.integers(0, len(node) - 1))] = data.draw(json_values)
    found = schema_issues(work)
    assert all(isinstance(i, FieldIssue) for i in found)
