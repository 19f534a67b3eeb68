"""Exact numbers.

Resource parameters are JSON numbers (``int`` or ``float``). The verifier and the
evaluator work on exact rationals so that a counterexample substituted back gives
exactly the same verdict; a float is converted through its shortest ``repr`` so
``0.1`` becomes ``1/10`` (what the user wrote), not the binary approximation.
"""

from __future__ import annotations

import math
from fractions import Fraction

Number = int | float


def is_number(value: object) -> bool:
    """True for finite ints and floats; bools are not numbers here."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def to_fraction(value: Number | Fraction) -> Fraction:
    """The exact rational a JSON number denotes."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or not is_number(value):
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(value))


def to_json_number(value: Fraction | Number) -> Number:
    """The JSON number for an exact value: an int when integral, else a float."""
    frac = to_fraction(value)
    if frac.denominator == 1:
        return int(frac.numerator)
    return float(frac)
