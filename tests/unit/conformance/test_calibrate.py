"""Observed environment values against assumptions, and covering proposals
(upir.conformance): exact checks at joined instants, and the widening rules."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

import pytest

from upir.conformance import Coverage, calibrate, check_assumptions
from upir.conformance.calibrate import observations_from
from upir.core import UPIR
from upir.errors import InvalidSpecError

SERVICE = {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 1}


def _upir(make_upir: Any, assumptions: list[str], **kw: Any) -> UPIR:
    return make_upir(  # type: ignore[no-any-return]
        [
            {"name": "gw", "type": "service", "params": SERVICE},
            {"name": "q", "type": "queue", "params": {"capacity": 100}},
        ],
        [("gw", "q")],
        assumptions=assumptions,
        invariants=[{"name": "ok", "operator": "ALWAYS", "predicate": "q.dropped == 0"}],
        **kw,
    )


def _series(*values: float | str) -> list[tuple[float, F]]:
    return [(float(15 * i), F(str(v))) for i, v in enumerate(values)]


def test_each_assumption_is_checked_at_the_instants_all_its_names_were_seen(
    make_upir: Any,
) -> None:
    upir = _upir(
        make_upir,
        [
            "env.arrival_rps <= 800",
            "env.arrival_rps <= 10 * env.q_drain_rps",
            "env.gw_failure_rate <= 0.01",
        ],
    )
    obs = {
        "env.arrival_rps": _series(500, 900, 700),
        # the drain was scraped at two of the three instants only
        "env.q_drain_rps": [(0.0, F(100)), (30.0, F(50))],
    }
    first, joint, unseen = check_assumptions(upir.specification.assumptions, obs)
    assert (first.coverage, first.instants, first.violations) == (Coverage.BROKEN, 3, 1)
    assert first.example == (15.0, {"env.arrival_rps": F(900)})
    # 700 <= 10 * 50 is false at t=30; t=15 has no drain and is not checked
    assert (joint.coverage, joint.instants, joint.violations) == (Coverage.BROKEN, 2, 1)
    assert unseen.coverage is Coverage.UNOBSERVED and unseen.missing == ("env.gw_failure_rate",)


def test_a_division_by_zero_in_an_assumption_breaks_it(make_upir: Any) -> None:
    upir = _upir(make_upir, ["env.arrival_rps / env.q_drain_rps <= 2"])
    obs = {"env.arrival_rps": _series(1), "env.q_drain_rps": _series(0)}
    (check,) = check_assumptions(upir.specification.assumptions, obs)
    assert check.coverage is Coverage.BROKEN


def test_broken_bounds_widen_with_the_margin_rounded_outwards(make_upir: Any) -> None:
    upir = _upir(
        make_upir,
        [
            "env.arrival_rps <= 800",
            "5 <= env.gw_service_ms <= 40",
            "env.gw_failure_rate <= 0.01",
            "env.q_drain_rps == 300",
        ],
    )
    obs = {
        "env.arrival_rps": _series(500, 910),
        "env.gw_service_ms": _series(3, 44),
        "env.gw_failure_rate": _series("0.5", "0.95"),
        "env.q_drain_rps": _series(280, 320),
    }
    result = calibrate(upir, obs)
    got = {p.original: (p.text, p.action) for p in result.proposals}
    assert got["env.arrival_rps <= 800"] == ("env.arrival_rps <= 1100", "widened")  # 1001 up
    # 3 * 0.9 = 2.7 down, 44 * 1.1 = 48.4 up to 49
    assert got["5 <= env.gw_service_ms <= 40"] == ("2.7 <= env.gw_service_ms <= 49", "widened")
    # a probability never needs more than 1
    assert got["env.gw_failure_rate <= 0.01"] == ("env.gw_failure_rate <= 1", "widened")
    assert got["env.q_drain_rps == 300"] == ("250 <= env.q_drain_rps <= 360", "widened")
    assert len(result.broken) == 4
    assumptions = result.patch()["spec"]["specification"]["assumptions"]  # type: ignore[index]
    assert assumptions == [p.text for p in result.proposals]
    # the proposal is valid input and the observations now hold
    fixed = _upir(make_upir, assumptions)
    assert not calibrate(fixed, obs).broken


def test_a_lower_bound_the_domain_gives_is_dropped(make_upir: Any) -> None:
    upir = _upir(make_upir, ["1 <= env.gw_service_ms <= 40"])
    result = calibrate(upir, {"env.gw_service_ms": _series("0.5", 10)}, margin=F(1))
    # 0.5 - 100% = 0: a service time is > 0 anyway
    assert [p.text for p in result.proposals] == ["env.gw_service_ms <= 40"]


def test_covered_and_unobserved_assumptions_are_kept_and_unbounded_names_get_a_bound(
    make_upir: Any,
) -> None:
    upir = _upir(make_upir, ["env.arrival_rps <= 800", "env.gw_failure_rate <= 0.01"])
    result = calibrate(upir, {"env.arrival_rps": _series(10, 20), "env.q_drain_rps": _series(5)})
    assert not result.broken
    assert [(p.text, p.action) for p in result.proposals] == [
        ("env.arrival_rps <= 800", "kept"),
        ("env.gw_failure_rate <= 0.01", "kept"),
        ("env.q_drain_rps <= 5.5", "added"),
    ]


def test_an_assumption_over_several_names_is_flagged_not_rewritten(make_upir: Any) -> None:
    upir = _upir(make_upir, ["env.arrival_rps <= 2 * env.q_drain_rps"])
    obs = {"env.arrival_rps": _series(300), "env.q_drain_rps": _series(100)}
    (proposal,) = calibrate(upir, obs).proposals
    assert (proposal.text, proposal.action) == ("env.arrival_rps <= 2 * env.q_drain_rps", "flagged")


def test_metrics_files_name_known_env_names_and_hold_numbers(make_upir: Any) -> None:
    upir = _upir(make_upir, ["env.arrival_rps <= 800"])
    obs = observations_from({"arrival_rps": [1, "2.5"], "env.q_drain_rps": [[10, "7"]]}, upir)
    assert obs == {
        "env.arrival_rps": [(0.0, F(1)), (1.0, F(5, 2))],
        "env.q_drain_rps": [(10.0, F(7))],
    }
    with pytest.raises(
        ValueError, match=r"metrics\.cpu: the spec uses no environment name env\.cpu"
    ):
        observations_from({"cpu": [1]}, upir)
    with pytest.raises(ValueError, match=r"metrics\.arrival_rps\[1\]: not a number"):
        observations_from({"arrival_rps": [1, "fast"]}, upir)
    with pytest.raises(ValueError, match=r"expected \[timestamp, value\]"):
        observations_from({"arrival_rps": [[1, 2, 3]]}, upir)


def test_environment_queries_may_only_name_env_names_the_spec_uses(make_upir: Any) -> None:
    tuning = {
        "prometheus": {
            "url": "http://prometheus:9090",
            "environment": {"arrival_rps": "sum(rate(x[1m]))", "cpu_load": "y"},
        }
    }
    with pytest.raises(InvalidSpecError) as err:
        _upir(make_upir, ["env.arrival_rps <= 800"], tuning=tuning)
    fields = [i.field for i in err.value.issues]
    assert fields == ["spec.tuning.prometheus.environment.cpu_load"]
    del tuning["prometheus"]["environment"]["cpu_load"]  # type: ignore[attr-defined]
    upir = _upir(make_upir, ["env.arrival_rps <= 800"], tuning=tuning)
    assert upir.tuning.prometheus is not None
    assert dict(upir.tuning.prometheus.environment) == {"arrival_rps": "sum(rate(x[1m]))"}
