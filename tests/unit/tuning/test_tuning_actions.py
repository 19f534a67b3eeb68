"""The tuner's action space: move sizes, grids, masks and encodings, by hand."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

import pytest
import torch

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.tuning.rl.policy import DOWN, KEEP, UP
from upir.tuning.space import ParameterSpace


def _upir(parameters: list[dict[str, Any]], fraction: float = 0.25, **params: Any) -> UPIR:
    gw = {"replicas": 2, "concurrency": 8, "timeout_ms": 200, "retries": 1}
    gw.update(params)
    return UPIR.from_resource(
        {
            "apiVersion": "upir.dev/v1alpha1",
            "kind": "UPIR",
            "metadata": {"name": "t"},
            "spec": {
                "architecture": {
                    "components": [
                        {"name": "gateway", "type": "service", "params": gw},
                        {"name": "orders", "type": "queue", "params": {"capacity": 400}},
                        {"name": "batcher", "type": "batcher", "params": {"flush_ms": 10}},
                    ],
                    "connections": [
                        {"from": "gateway", "to": "orders"},
                        {"from": "orders", "to": "batcher"},
                    ],
                },
                "specification": {"assumptions": ["env.arrival_rps <= 10"]},
                "parameters": parameters,
                "tuning": {"maxStepFraction": fraction},
            },
        }
    )


def test_step_domain_moves_by_the_fraction_in_whole_steps() -> None:
    u = _upir([{"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10}])
    space = ParameterSpace(u)
    axis = space.axes[0]
    # 25% of 200 = 50 = 5 steps of 10
    assert axis.moved(F(200), UP, space.fraction) == 250
    assert axis.moved(F(200), DOWN, space.fraction) == 150
    # 25% of 60 = 15 -> one step of 10
    assert axis.moved(F(60), DOWN, space.fraction) == 50
    assert axis.moved(F(50), DOWN, space.fraction) is None  # at min
    # 25% of 900 = 225 -> 220, clamped at the max
    assert axis.moved(F(900), UP, space.fraction) == 1000
    assert axis.moved(F(1000), UP, space.fraction) is None
    assert axis.moved(F(200), KEEP, space.fraction) == 200


def test_small_integers_always_move_by_one_unit() -> None:
    u = _upir([{"name": "gateway.retries", "min": 0, "max": 3}])
    space = ParameterSpace(u)
    axis = space.axes[0]
    assert axis.unit == 1
    # 25% of 0 or 1 is below one unit: one unit is still allowed
    assert axis.moved(F(0), UP, space.fraction) == 1
    assert axis.moved(F(1), UP, space.fraction) == 2
    assert axis.moved(F(1), DOWN, space.fraction) == 0
    assert axis.moved(F(0), DOWN, space.fraction) is None
    assert axis.moved(F(3), UP, space.fraction) is None


def test_large_fraction_moves_further() -> None:
    u = _upir([{"name": "orders.capacity", "min": 100, "max": 10000, "step": 100}], fraction=1.0)
    space = ParameterSpace(u)
    axis = space.axes[0]
    assert axis.moved(F(400), UP, space.fraction) == 800
    assert axis.moved(F(400), DOWN, space.fraction) == 100  # 400 - 400 = 0, clamped to min
    assert axis.log_scale  # spans a factor of 100


def test_continuous_domain_uses_a_round_unit() -> None:
    u = _upir([{"name": "batcher.flush_ms", "min": 0, "max": 50}])
    space = ParameterSpace(u)
    axis = space.axes[0]
    assert axis.unit == F(1, 2)  # 50/64 rounded down to a 1-2-5 number
    assert axis.moved(F(10), UP, space.fraction) == F(25, 2)
    assert axis.moved(F(0), UP, space.fraction) == F(1, 2)
    assert not axis.log_scale  # min is 0


def test_off_grid_and_out_of_domain_values_move_back_onto_the_grid() -> None:
    u = _upir([{"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10}])
    space = ParameterSpace(u)
    axis = space.axes[0]
    assert axis.moved(F(205), UP, space.fraction) == 250  # 205 + 50 -> snapped down to 250
    assert axis.moved(F(1500), DOWN, space.fraction) == 1000  # back inside
    assert axis.moved(F(1500), UP, space.fraction) is None
    assert axis.moved(F(20), UP, space.fraction) == 50


def test_mask_and_decode() -> None:
    u = _upir(
        [
            {"name": "gateway.retries", "min": 0, "max": 3},
            {"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10},
        ],
        retries=0,
    )
    space = ParameterSpace(u)
    values = u.tunable_values()
    mask = space.mask(values)
    assert mask.tolist() == [[False, True, True], [True, True, True]]
    out = space.decode(values, [UP, DOWN])
    assert out == {"gateway.retries": 1, "gateway.timeout_ms": 150}
    assert space.decode(values, torch.tensor([KEEP, KEEP])) == values
    with pytest.raises(ValueError):
        space.decode(values, [DOWN, KEEP])
    with pytest.raises(ValueError):
        space.decode(values, [KEEP])


def test_every_allowed_move_stays_in_the_domain() -> None:
    u = _upir(
        [
            {"name": "gateway.timeout_ms", "min": 50, "max": 1000, "step": 10},
            {"name": "gateway.retries", "min": 0, "max": 3},
            {"name": "orders.capacity", "min": 50, "max": 5000, "step": 50},
            {"name": "batcher.flush_ms", "min": 0, "max": 50},
        ]
    )
    space = ParameterSpace(u)
    for axis in space.axes:
        d = axis.domain
        value = d.min
        seen = 0
        while value is not None:  # walk up the whole domain, then down again
            assert d.contains(value)
            seen += 1
            nxt = axis.moved(value, UP, space.fraction)
            assert nxt is None or nxt > value
            value = nxt
        assert seen > 2


def test_encode_positions() -> None:
    u = _upir(
        [
            {"name": "gateway.retries", "min": 0, "max": 4},
            {"name": "orders.capacity", "min": 100, "max": 10000, "step": 100},
        ],
        retries=2,
    )
    space = ParameterSpace(u)
    pos = space.encode({"gateway.retries": F(2), "orders.capacity": F(1000)})
    assert pos[0] == pytest.approx(0.0)
    assert pos[1] == pytest.approx(0.0)  # log scale: 1000 is halfway between 100 and 10000
    assert space.encode({"gateway.retries": F(4), "orders.capacity": F(100)}) == [1.0, -1.0]


def test_no_tunable_parameters_is_an_error() -> None:
    with pytest.raises(InvalidSpecError):
        ParameterSpace(_upir([]))
    u = _upir([{"name": "gateway.retries", "min": 0, "max": 3}])
    with pytest.raises(InvalidSpecError):
        ParameterSpace(u).values_of({})
