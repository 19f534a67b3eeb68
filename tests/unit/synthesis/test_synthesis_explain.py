"""Explanations: unsat-core labels mapped back to domains, properties,
environments and assumptions; results' JSON form."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

from upir.core import UPIR
from upir.synthesis import IterationRecord, Sketch, SynthesisResult, SynthesisStatus
from upir.synthesis.explain import Label, assumptions_for, explain_core, run_text


def _upir() -> UPIR:
    doc: dict[str, Any] = {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "checkout"},
        "spec": {
            "architecture": {
                "components": [
                    {"name": "gateway", "type": "service", "params": {"timeout_ms": 300}}
                ]
            },
            "specification": {
                "assumptions": ["5 <= env.gateway_service_ms <= 40", "env.arrival_rps <= 800"],
                "properties": [
                    {
                        "name": "fast",
                        "operator": "ALWAYS",
                        "predicate": "gateway.latency_ms <= 250",
                    },
                    {
                        "name": "retry_budget",
                        "operator": "ALWAYS",
                        "predicate": "gateway.timeout_ms * (gateway.retries + 1) <= 2000",
                    },
                ],
            },
            "parameters": [
                {"name": "gateway.timeout_ms", "min": 50, "max": 2000, "step": 10},
                {"name": "gateway.retries", "min": 0, "max": 5},
            ],
        },
    }
    return UPIR.from_resource(doc)


def _labels() -> dict[str, Label]:
    env = {"env.gateway_service_ms": F(40), "env.gateway_failure_rate": F(1, 100)}
    return {
        "domain:gateway.timeout_ms": Label("domain", hole="gateway.timeout_ms"),
        "domain:gateway.retries": Label("domain", hole="gateway.retries"),
        "run:1:retry_budget": Label("property", prop="retry_budget", env=({},)),
        "run:2:fast": Label(
            "property",
            prop="fast",
            env=(env,),
            env_names=frozenset({"env.gateway_service_ms"}),
        ),
        "blocked:3": Label("blocked", candidate={"gateway.retries": F(1)}, reason="fast: TIMEOUT"),
    }


def test_core_names_domains_properties_environment_and_assumptions() -> None:
    sketch = Sketch.from_upir(_upir())
    text = explain_core(
        ["domain:gateway.timeout_ms", "domain:gateway.retries", "run:1:retry_budget", "run:2:fast"],
        _labels(),
        sketch,
    )
    assert text.startswith(
        "no values of gateway.timeout_ms in [50, 2000] (step 10), gateway.retries in [0, 5] satisfy: "
        "retry_budget; fast under env.gateway_service_ms = 40 "
        "(allowed by: 5 <= env.gateway_service_ms <= 40)"
    )
    # only the names in the property's cone are shown, and only their assumptions
    assert "failure_rate" not in text and "arrival_rps" not in text
    assert text.endswith("(the other parameters keep their current values)")


def test_core_without_domains_says_any_domain() -> None:
    sketch = Sketch.from_upir(_upir())
    text = explain_core(["run:1:retry_budget"], _labels(), sketch)
    assert text.startswith(
        "no values of gateway.timeout_ms, gateway.retries (in any domain) satisfy: retry_budget"
    )


def test_blocked_candidates_are_named_as_undecided() -> None:
    sketch = Sketch.from_upir(_upir())
    text = explain_core(["domain:gateway.retries", "blocked:3"], _labels(), sketch)
    assert "1 candidate(s) the verifier could not decide excluded (fast: TIMEOUT)" in text


def test_run_text_for_varying_and_steady_runs() -> None:
    steps = [{"env.a": F(i), "env.b": F(7)} for i in range(8)]
    text = run_text(steps, frozenset({"env.a", "env.b"}))
    assert (
        text
        == "a 8-step run with env.a = [0, 1, 2, 3, 4, 5, ...] per step, env.b = [7, 7, 7, 7, 7, 7, ...] per step"
    )
    held = run_text([{"env.a": F(1, 3)}] * 3, frozenset({"env.a", "env.zzz"}))
    assert held == "env.a = 0.333333 (held for 3 steps)"
    assert run_text([{"env.a": F(1)}], frozenset()) == ""


def test_assumptions_for_picks_those_mentioning_the_names() -> None:
    upir = _upir()
    assert assumptions_for(upir, ["env.arrival_rps"]) == ["env.arrival_rps <= 800"]
    assert assumptions_for(upir, ["env.other"]) == []


def test_result_json_has_the_contract_keys() -> None:
    record = IterationRecord(1, {"gateway.retries": F(1, 2)}, 1.5, 2.25, ("fast",), 1)
    result = SynthesisResult(
        SynthesisStatus.SUCCESS,
        {"gateway.retries": F(2), "gateway.timeout_ms": F(1, 4)},
        2,
        12.3456,
        "done",
        history=(record,),
    )
    brief = result.to_json(details=False)
    assert list(brief) == ["status", "parameters", "iterations", "timeMs", "explanation"]
    assert brief["status"] == "SUCCESS"
    assert brief["parameters"] == {"gateway.retries": 2, "gateway.timeout_ms": 0.25}
    assert isinstance(brief["parameters"]["gateway.retries"], int)
    assert brief["timeMs"] == 12.346
    full = result.to_json()
    assert full["parametersExact"] == {"gateway.retries": "2", "gateway.timeout_ms": "1/4"}
    assert full["history"][0]["candidate"] == {"gateway.retries": 0.5}
    assert full["history"][0]["failed"] == ["fast"]
    assert result.iteration_times_ms() == (3.75,)
    assert result.succeeded and SynthesisStatus.PARTIAL.value == "PARTIAL"
