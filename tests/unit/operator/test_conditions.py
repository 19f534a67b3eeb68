from datetime import UTC, datetime

import pytest
from upir_operator.conditions import MAX_MESSAGE, condition, get_condition, merge_conditions

T1 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 21, 11, 0, 0, tzinfo=UTC)


def test_condition_shape() -> None:
    c = condition("Verified", True, "AllProved", "6 PROVED", 3)
    assert c == {
        "type": "Verified",
        "status": "True",
        "reason": "AllProved",
        "message": "6 PROVED",
        "observedGeneration": 3,
    }
    assert condition("Ready", None, "Pending", "", 1)["status"] == "Unknown"
    assert len(condition("Valid", False, "InvalidSpec", "x" * 5000, 1)["message"]) == MAX_MESSAGE


@pytest.mark.parametrize(
    ("type_", "reason"), [("Bogus", "Ok"), ("Ready", "not camel"), ("Ready", "lower")]
)
def test_bad_type_or_reason_is_refused(type_: str, reason: str) -> None:
    with pytest.raises(ValueError):
        condition(type_, True, reason, "", 1)


def test_transition_time_moves_only_on_status_change() -> None:
    first = merge_conditions(None, [condition("Ready", True, "Applied", "a", 1)], T1)
    assert first[0]["lastTransitionTime"] == "2026-11-21T10:00:00Z"
    same = merge_conditions(first, [condition("Ready", True, "Applied", "b", 2)], T2)
    assert same[0]["lastTransitionTime"] == "2026-11-21T10:00:00Z" and same[0]["message"] == "b"
    flipped = merge_conditions(same, [condition("Ready", False, "NoProvedParameters", "c", 3)], T2)
    assert flipped[0]["lastTransitionTime"] == "2026-11-21T11:00:00Z"


def test_order_and_lookup() -> None:
    conds = merge_conditions(
        None,
        [
            condition("Ready", True, "Applied", "", 1),
            condition("Valid", True, "SpecValid", "", 1),
            condition("Tuning", False, "Hold", "", 1),
        ],
        T1,
    )
    assert [c["type"] for c in conds] == ["Valid", "Tuning", "Ready"]
    assert get_condition(conds, "Tuning")["reason"] == "Hold"  # type: ignore[index]
    assert get_condition(conds, "Verified") is None
