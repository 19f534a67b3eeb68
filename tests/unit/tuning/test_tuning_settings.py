"""The tuning settings tree: one validation naming each field, and the winner
(score model + exploring imagination + restart) exactly where a load is observed."""

from __future__ import annotations

import pytest

from upir.errors import InvalidSpecError
from upir.tuning.imagination import ModelSettings
from upir.tuning.restart import RestartSettings
from upir.tuning.settings import HoldSettings, LearnerSettings, RollbackSettings, TuningSettings


def test_defaults_are_valid_and_documented() -> None:
    st = TuningSettings().validate()
    assert st.attempts == 2 and st.rollback.enabled and st.rollback.threshold == 0.2
    assert st.model is None  # auto


def test_winner_only_with_an_observed_load() -> None:
    st = TuningSettings()
    plain = st.learner_for(())
    assert not plain.model.enabled and plain.restart.metric is None
    won = st.learner_for(("offered_rps",))
    assert won.model.enabled and won.model.context == ("offered_rps",)
    assert won.model.explore > 0 and won.restart.metric == "offered_rps"
    assert not TuningSettings(model=False).learner_for(("offered_rps",)).model.enabled
    forced = TuningSettings(model=True).learner_for(())
    assert forced.model.enabled and forced.model.context == ()


def test_an_explicit_restart_metric_wins() -> None:
    st = TuningSettings(learner=LearnerSettings(restart=RestartSettings(metric="throughput_rps")))
    assert st.learner_for(("offered_rps",)).restart.metric == "throughput_rps"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (TuningSettings(attempts=0), "attempts"),
        (TuningSettings(rollback=RollbackSettings(threshold=0)), "rollback.threshold"),
        (TuningSettings(rollback=RollbackSettings(windows=0)), "rollback.windows"),
        (TuningSettings(hold=HoldSettings(max_age_s=float("nan"))), "hold.max_age_s"),
        (TuningSettings(hold=HoldSettings(min_throughput_rps=-1)), "hold.min_throughput_rps"),
        (TuningSettings(learner=LearnerSettings(keep_prob=1.5)), "learner.keep_prob"),
        (
            TuningSettings(learner=LearnerSettings(model=ModelSettings(explore=2))),
            "learner.model.explore",
        ),
        (TuningSettings(seed=-1), "seed"),
    ],
)
def test_each_bad_field_is_named(settings: TuningSettings, field: str) -> None:
    with pytest.raises(InvalidSpecError) as err:
        settings.validate()
    assert [i.field for i in err.value.issues] == [field]
