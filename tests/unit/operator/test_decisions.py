from fractions import Fraction

import pytest
from upir_operator.decisions import (
    Action,
    Sample,
    TuningPolicy,
    TuningState,
    decide,
    hold_reason,
    score,
)

OBJ = {"latency_ms": Fraction(1), "throughput_rps": Fraction(1), "error_rate": Fraction(10)}
REQ = ("latency_ms", "throughput_rps", "error_rate")
CUR = {"gateway.timeout_ms": Fraction(300)}
NEW = {"gateway.timeout_ms": Fraction(350)}
NOW = 1_000_000.0
POLICY = TuningPolicy(regression_threshold=0.2, regression_windows=2, max_age_s=120)


def samples(lat: float, tp: float = 100.0, err: float = 0.0, age: float = 5.0) -> dict[str, Sample]:
    return {
        "latency_ms": Sample(lat, NOW - age),
        "throughput_rps": Sample(tp, NOW - age),
        "error_rate": Sample(err, NOW - age),
    }


def run(
    state: TuningState,
    s: dict[str, Sample],
    proposal: dict[str, Fraction] | None = None,
    proved: bool | None = None,
    mode: str = "Auto",
    current: dict[str, Fraction] = CUR,
):  # type: ignore[no-untyped-def]
    return decide(
        mode=mode,
        state=state,
        current=current,
        samples=s,
        required=REQ,
        objective=OBJ,
        proposal=proposal,
        proved=proved,
        now=NOW,
        policy=POLICY,
    )


def test_score_weights_costs_and_benefits() -> None:
    assert score(
        {"latency_ms": 50, "throughput_rps": 100, "error_rate": 0.1}, OBJ
    ) == pytest.approx(50 - 100 + 1)


@pytest.mark.parametrize(
    ("s", "needle"),
    [
        (
            {"latency_ms": Sample(None), "throughput_rps": Sample(1.0), "error_rate": Sample(0.0)},
            "MetricMissing",
        ),
        (samples(float("nan")), "MetricNotFinite"),
        (samples(10.0, age=500), "MetricStale"),
        ({"throughput_rps": Sample(1.0), "error_rate": Sample(0.0)}, "MetricMissing: latency_ms"),
    ],
)
def test_hold_on_bad_metrics(s: dict[str, Sample], needle: str) -> None:
    reason = hold_reason(s, REQ, NOW, POLICY)
    assert reason is not None and needle in reason
    d = run(TuningState(), s, NEW, True)
    assert d.action is Action.HOLD and d.state.holds == 1 and d.params is None


def test_too_thin_window_holds() -> None:
    policy = TuningPolicy(min_throughput_rps=5)
    assert "TooFewSamples" in (hold_reason(samples(10, tp=1), REQ, NOW, policy) or "")


def test_apply_recommend_reject_keep() -> None:
    d = run(TuningState(), samples(40), NEW, True)
    assert (
        d.action is Action.APPLY
        and d.params == NEW
        and d.state.accepted == 1
        and d.state.proposals == 1
    )
    d = run(TuningState(), samples(40), NEW, True, mode="Recommend")
    assert d.action is Action.RECOMMEND and d.params == NEW
    d = run(TuningState(), samples(40), NEW, False)
    assert d.action is Action.REJECT and d.state.rejected == 1 and d.state.accepted == 0
    d = run(TuningState(), samples(40), dict(CUR), True)
    assert d.action is Action.KEEP and d.state.proposals == 0


def test_rollback_after_n_regressed_windows_to_best_config() -> None:
    best = {"gateway.timeout_ms": Fraction(200)}
    st = run(TuningState(), samples(40), current=best).state  # best measured at 200
    assert st.best_params == best
    # now running 300 and it measures much worse for two windows
    d1 = run(st, samples(80))
    assert d1.action is Action.KEEP and d1.state.bad_windows == 1
    d2 = run(d1.state, samples(80))
    assert d2.action is Action.ROLLBACK and d2.params == best and d2.state.rolled_back == 1
    assert d2.state.bad_windows == 0


def test_no_rollback_when_within_threshold_or_recovering() -> None:
    st = run(TuningState(), samples(40)).state
    d = run(st, samples(41))  # 2.5 % worse: not a regression
    assert d.state.bad_windows == 0
    d1 = run(st, samples(80))
    d2 = run(d1.state, samples(40))  # recovered: the streak resets
    assert d2.state.bad_windows == 0 and d2.action is not Action.ROLLBACK


def test_rollback_never_targets_the_running_config() -> None:
    st = run(TuningState(), samples(40)).state  # best is CUR itself
    d = run(run(st, samples(80)).state, samples(80))
    assert d.action is not Action.ROLLBACK
