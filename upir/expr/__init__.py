"""The UPIR expression language (DESIGN.md section 3).

``parse`` turns predicate/assumption text into a typed AST (never ``eval``),
``to_source`` prints it back, ``evaluate`` computes it exactly.
"""

from upir.expr.ast import (
    BOOL,
    NUM,
    BinOp,
    BoolLit,
    BoolOp,
    Call,
    Compare,
    Expr,
    ExprType,
    Name,
    Neg,
    Not,
    Num,
    children,
    name_nodes,
    names,
)
from upir.expr.evaluate import EvaluationError, constant_value, evaluate
from upir.expr.limits import DEFAULT_LIMITS, HARD_MAX_DEPTH, ExprLimits
from upir.expr.parser import parse
from upir.expr.printer import format_number, to_source

__all__ = [
    "constant_value",
    "BOOL",
    "DEFAULT_LIMITS",
    "HARD_MAX_DEPTH",
    "NUM",
    "BinOp",
    "BoolLit",
    "BoolOp",
    "Call",
    "Compare",
    "EvaluationError",
    "Expr",
    "ExprLimits",
    "ExprType",
    "Name",
    "Neg",
    "Not",
    "Num",
    "children",
    "evaluate",
    "format_number",
    "name_nodes",
    "names",
    "parse",
    "to_source",
]
