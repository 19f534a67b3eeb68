"""Temporal operators and properties.

Semantics (bounded LTL over the model's discrete-time traces; the verifier in
``upir.verification`` gives them meaning):

- ``ALWAYS p``: p holds at every step.
- ``EVENTUALLY p``: p holds at some step of the horizon.
- ``WITHIN p, T``: p holds at some step no later than ``T`` ms from the start.
- ``UNTIL p, q`` (p U q): q holds at some step, and p holds at every step before it.
- ``SINCE p, q`` (p S q): at the last step, q held at some step and p has held at
  every step after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from upir.expr.ast import Expr


class TemporalOperator(str, Enum):
    ALWAYS = "ALWAYS"
    EVENTUALLY = "EVENTUALLY"
    WITHIN = "WITHIN"
    UNTIL = "UNTIL"
    SINCE = "SINCE"

    @property
    def needs_trigger(self) -> bool:
        """UNTIL and SINCE take a second predicate (``trigger``)."""
        return self in (TemporalOperator.UNTIL, TemporalOperator.SINCE)

    @property
    def needs_time_bound(self) -> bool:
        return self is TemporalOperator.WITHIN


@dataclass(frozen=True, slots=True)
class TemporalProperty:
    """A named temporal property over the model.

    ``predicate`` (and ``trigger`` for UNTIL/SINCE) are parsed, type-checked
    boolean expressions. ``kind`` is ``"invariant"``, ``"property"`` or
    ``"constraint"`` (constraints are ALWAYS properties generated from
    ``spec.specification.constraints``). ``field`` is where it came from in the
    resource, for messages.
    """

    name: str
    operator: TemporalOperator
    predicate: Expr
    trigger: Expr | None = None
    time_bound_ms: Fraction | None = None
    kind: str = "property"
    field: str = ""
