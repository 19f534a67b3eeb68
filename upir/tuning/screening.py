"""The move mask: which moves the policy may sample from the values in force.

A move is allowed when it stays on its parameter's grid inside its domain
(:meth:`upir.tuning.space.ParameterSpace.mask`) and, with a screening
guardrail (``LearnerSettings.screen_moves``), when the guardrail proves the
values with that one parameter moved.

Why screen: without it the policy learns what the spec forbids only by
penalty, one rejected proposal at a time (each a guardrail check and, when the
attempts run out, a window with nothing applied); masking the single moves the
guardrail does not prove keeps its samples where the spec allows them, for 2
checks per parameter and decision (memoised by the guardrail). A joint move
can still be rejected: the proposal as a whole is checked like any other.
Imagined moves are masked by the domains only (:mod:`upir.tuning.imagination`).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import torch

from upir.tuning.rl.policy import DOWN, UP
from upir.tuning.space import ParameterSpace
from upir.verification.guardrail import Guardrail

__all__ = ["allowed_moves"]


def allowed_moves(
    space: ParameterSpace, params: Mapping[str, Fraction], guardrail: Guardrail | None
) -> torch.Tensor:
    """(n, 3) allowed moves from ``params``: inside each domain's grid and,
    with ``guardrail`` (None: no screening), proved when made alone."""
    mask = space.mask(params)
    if guardrail is None:
        return mask
    for h, axis in enumerate(space.axes):
        for a in (DOWN, UP):
            if bool(mask[h, a]):
                moved = axis.moved(params[axis.name], a, space.fraction)
                mask[h, a] = moved is not None and guardrail.screen({**params, axis.name: moved})
    return mask
