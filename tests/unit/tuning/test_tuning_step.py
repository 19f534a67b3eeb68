"""The one tuning step (``upir.tuning.step``): hold, score, roll back, propose,
guard, then apply / recommend / keep; driven here by a scripted learner (our
own layer) so each rule is seen on its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import pytest

from upir.core import UPIR
from upir.tuning.objective import TuningObjective
from upir.tuning.settings import HoldSettings, LearnerSettings, RollbackSettings, TuningSettings
from upir.tuning.step import Action, Best, LoopState, Sample, hold_reason, step

CUR = {"gateway.retries": Fraction(1), "gateway.replicas": Fraction(4)}
NEW = {"gateway.retries": Fraction(1), "gateway.replicas": Fraction(5)}
OTHER = {"gateway.retries": Fraction(2), "gateway.replicas": Fraction(4)}
NOW = 1_000_000.0
REQ = ("latency_ms", "throughput_rps", "error_rate")


class Scripted:
    """A learner (our own layer, scripted): proposes ``proposals`` in turn."""

    def __init__(self, upir: UPIR, proposals: list[Mapping[str, Fraction]]) -> None:
        self.settings = LearnerSettings()
        self.objective = TuningObjective(upir)
        self.proposals = list(proposals)
        self.seen: list[dict[str, float]] = []
        self.rejected: list[dict[str, Fraction]] = []

    def learn_from_metrics(self, metrics: Mapping[str, float], current: Any) -> dict:
        self.seen.append(dict(metrics))
        return dict(self.proposals.pop(0)) if self.proposals else dict(current)

    def propose(self) -> dict:
        return dict(self.proposals.pop(0)) if self.proposals else dict(CUR)

    def record_rejection(self, proposal: Mapping[str, Fraction], outcome: Any) -> None:
        self.rejected.append(dict(proposal))


class Verdict:
    """A verifier's report (our own layer): ``passed`` only when PROVED."""

    def __init__(self, passed: bool) -> None:
        self.passed = passed


def samples(lat: float, tp: float = 100.0, err: float = 0.0, age: float = 5.0) -> dict:
    return {
        "latency_ms": Sample(lat, NOW - age),
        "throughput_rps": Sample(tp, NOW - age),
        "error_rate": Sample(err, NOW - age),
    }


def run(
    learner: Scripted,
    state: LoopState,
    s: Mapping[str, Sample],
    guard: Callable[[Any], Any] | None = lambda p: Verdict(True),
    *,
    mode: str = "Auto",
    current: Mapping[str, Fraction] = CUR,
    settings: TuningSettings | None = None,
    load: Mapping[str, float] | None = None,
):  # type: ignore[no-untyped-def]
    return step(
        learner=learner,  # type: ignore[arg-type]
        state=state,
        current=current,
        samples=s,
        guard=guard,
        settings=settings or TuningSettings(),
        mode=mode,
        now=NOW,
        load=load,
    )


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
def test_hold_on_bad_metrics(gateway_upir: UPIR, s: dict[str, Sample], needle: str) -> None:
    reason = hold_reason(s, REQ, NOW, HoldSettings(max_age_s=120))
    assert reason is not None and needle in reason
    learner = Scripted(gateway_upir, [NEW])
    d = run(learner, LoopState(), s, settings=TuningSettings(hold=HoldSettings(max_age_s=120)))
    assert d.action is Action.HOLD and d.state.holds == 1 and d.params is None
    assert learner.seen == []  # a held window teaches the learner nothing


def test_too_thin_window_holds() -> None:
    hold = HoldSettings(min_throughput_rps=5)
    assert "TooFewSamples" in (hold_reason(samples(10, tp=1), REQ, NOW, hold) or "")


def test_apply_recommend_reject_keep(gateway_upir: UPIR) -> None:
    d = run(Scripted(gateway_upir, [NEW]), LoopState(), samples(40))
    assert d.action is Action.APPLY and d.params == NEW
    assert d.state.accepted == 1 and d.state.proposals == 1 and d.score is not None
    d = run(Scripted(gateway_upir, [NEW]), LoopState(), samples(40), mode="Recommend")
    assert d.action is Action.RECOMMEND and d.params == NEW
    learner = Scripted(gateway_upir, [NEW, OTHER])
    d = run(learner, LoopState(), samples(40), lambda p: Verdict(False))
    # two attempts: both checked, both rejected and recorded with the learner
    assert d.action is Action.REJECT and d.state.rejected == 2 and d.state.accepted == 0
    assert learner.rejected == [NEW, OTHER] and len(d.checks) == 2
    d = run(Scripted(gateway_upir, [dict(CUR)]), LoopState(), samples(40))
    assert d.action is Action.KEEP and d.state.proposals == 0


def test_second_attempt_applies_when_proved(gateway_upir: UPIR) -> None:
    d = run(
        Scripted(gateway_upir, [NEW, OTHER]),
        LoopState(),
        samples(40),
        lambda p: Verdict(p == OTHER),
    )
    assert d.action is Action.APPLY and d.params == OTHER
    assert (d.state.proposals, d.state.rejected, d.state.accepted) == (2, 1, 1)


def test_unguarded_applies_unchecked(gateway_upir: UPIR) -> None:
    d = run(Scripted(gateway_upir, [NEW]), LoopState(), samples(40), None)
    assert d.action is Action.APPLY and d.checks == () and "unchecked" in d.reason


def test_rollback_after_n_regressed_windows_to_best_config(gateway_upir: UPIR) -> None:
    learner = Scripted(gateway_upir, [])
    best = dict(OTHER)
    st = run(learner, LoopState(), samples(40), current=best).state  # best measured
    assert st.best_params == best
    d1 = run(learner, st, samples(120))  # CUR runs, much worse (higher is better)
    assert d1.action is Action.KEEP and d1.state.bad_windows == 1
    d2 = run(learner, d1.state, samples(120))
    assert d2.action is Action.ROLLBACK and d2.params == best and d2.state.rolled_back == 1
    assert d2.state.bad_windows == 0
    off = TuningSettings(rollback=RollbackSettings(enabled=False))
    d3 = run(learner, d1.state, samples(120), settings=off)
    assert d3.action is Action.KEEP


def test_an_interrupted_regression_does_not_roll_back() -> None:
    rule = RollbackSettings(threshold=0.2, windows=2)
    a, b, c = {"x": Fraction(1)}, {"x": Fraction(2)}, {"x": Fraction(3)}
    st, back = Best.observe(LoopState(), a, 1.0, rule)
    assert not back
    st, back = Best.observe(st, b, 0.5, rule)  # regressed once
    assert not back and st.bad_windows == 1
    st, back = Best.observe(st, c, 0.9, rule)  # within 20%: the count restarts
    assert not back and st.bad_windows == 0
    st, back = Best.observe(st, b, 0.5, rule)
    st, back = Best.observe(st, b, 0.5, rule)  # twice in a row
    assert back and st.best_params == a


def test_best_is_re_measured_while_it_runs() -> None:
    # after a load shift the best configuration scores lower: its record follows,
    # so a best from the old load does not trigger rollback after rollback
    rule = RollbackSettings(threshold=0.2, windows=1)
    a, b = {"x": Fraction(1)}, {"x": Fraction(2)}
    st, _ = Best.observe(LoopState(), a, 1.0, rule)
    st, back = Best.observe(st, b, 0.5, rule)
    assert back
    st, back = Best.observe(st, a, 0.4, rule)  # a re-measured under the new load
    assert not back and st.best_score == 0.4 and st.best_params == a
    st, back = Best.observe(st, b, 0.38, rule)  # within 20% (floor 0.1) of a's new score
    assert not back


def test_the_margin_has_a_floor_near_zero() -> None:
    # near a score of 0, 20% of the score is noise: at least 0.1 score units count
    rule = RollbackSettings(threshold=0.2, windows=1)
    st, _ = Best.observe(LoopState(), {"x": Fraction(1)}, 0.001, rule)
    _, back = Best.observe(st, {"x": Fraction(2)}, -0.015, rule)
    assert not back


def test_observed_load_is_given_to_the_learner_and_missing_load_holds(gateway_upir: UPIR) -> None:
    learner = Scripted(gateway_upir, [NEW])
    settings = TuningSettings()
    learner.settings = settings.learner_for(("env.arrival_rps",))
    d = run(learner, LoopState(), samples(40), settings=settings, load={"env.arrival_rps": 200.0})
    assert d.action is Action.APPLY and learner.seen[0]["env.arrival_rps"] == 200.0
    d = run(learner, LoopState(), samples(40), settings=settings, load={})
    assert d.action is Action.HOLD and "env.arrival_rps" in d.reason
    d = run(learner, LoopState(), samples(40), settings=settings, load={"env.arrival_rps": 0.0})
    assert d.action is Action.HOLD and "LoadNotPositive" in d.reason


def test_state_round_trips_and_old_scores_are_dropped() -> None:
    st = LoopState(best_params={"x": Fraction(1, 3)}, best_score=0.5, proposals=3, holds=1)
    assert LoopState.from_json(st.to_json()) == st
    old = '{"best_params": {"x": "1"}, "best_score": 40.0, "bad_windows": 1, "proposals": 3,'
    old += ' "accepted": 2, "rejected": 1, "rolled_back": 0, "holds": 4}'
    back = LoopState.from_json(old)  # a lower-is-better score of an older operator
    assert back.best_params is None and back.best_score is None and back.proposals == 3
