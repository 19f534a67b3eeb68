"""Size limits of the expression language (DESIGN.md section 3).

Expressions come from user-supplied resources, so every dimension that could make
parsing or later stages (the Z3 encoder, the evaluator) slow or unbounded is capped.
Input over any limit is rejected with an :class:`~upir.errors.ExpressionError` that
names the limit, before any expensive work is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from upir.errors import SettingsError

#: Hard ceiling on :attr:`ExprLimits.max_depth`. The parser recurses once (two or
#: three Python frames) per parenthesis, unary operator, call or pending right operand,
#: and downstream consumers walk the AST recursively; keeping nesting far below
#: Python's default recursion limit (1000) means no caller ever sees a RecursionError.
HARD_MAX_DEPTH = 128


@dataclass(frozen=True, slots=True)
class ExprLimits:
    """Limits applied by :func:`upir.expr.parse`. All fields are positive integers.

    Attributes:
        max_length: longest accepted expression, in characters (default 2000).
        max_depth: deepest nesting (default 64), counted two ways, both capped:
            open parentheses, call argument lists, unary operators and pending
            right operands around a point, and the height of the resulting AST (so ``a+b+c+...`` with more
            than ``max_depth`` terms is rejected too: every consumer may recurse).
            At most :data:`HARD_MAX_DEPTH`.
        max_nodes: most AST nodes in one expression (default 1000).
        max_literal_digits: most significant digits in one numeric literal,
            leading and trailing zeros not counted (default 18).
        max_abs_literal: largest magnitude of one numeric literal, inclusive
            (default 10**15). Negative numbers are unary minus on a literal.
        max_exponent: largest decimal exponent in magnitude (default 15): the
            written exponent (``1e15`` at most) and also the order of magnitude of
            a nonzero literal, so the smallest accepted nonzero literal is
            ``10**-max_exponent`` (``1e-15``). Together with ``max_literal_digits``
            this bounds every literal's exact denominator by ``10**33``.
        max_name_length: longest dotted name, in characters (default 253, the
            Kubernetes limit for a ConfigMap key, which a parameter name becomes).
    """

    max_length: int = 2000
    max_depth: int = 64
    max_nodes: int = 1000
    max_literal_digits: int = 18
    max_abs_literal: int = 10**15
    max_exponent: int = 15
    max_name_length: int = 253

    def __post_init__(self) -> None:
        for name, value in (
            ("max_length", self.max_length),
            ("max_depth", self.max_depth),
            ("max_nodes", self.max_nodes),
            ("max_literal_digits", self.max_literal_digits),
            ("max_abs_literal", self.max_abs_literal),
            ("max_exponent", self.max_exponent),
            ("max_name_length", self.max_name_length),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"ExprLimits.{name} must be a positive integer, got {value!r}")
        if self.max_depth > HARD_MAX_DEPTH:
            raise SettingsError(
                f"ExprLimits.max_depth must be at most {HARD_MAX_DEPTH}, got {self.max_depth}"
            )


DEFAULT_LIMITS = ExprLimits()
