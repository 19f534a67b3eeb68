"""Example-based tests of the expression parser: shapes, precedence, chaining, types."""

from __future__ import annotations

from fractions import Fraction

import pytest

from upir.expr import (
    BinOp,
    BoolLit,
    BoolOp,
    Call,
    Compare,
    Expr,
    Name,
    Neg,
    Not,
    Num,
    name_nodes,
    names,
    parse,
)


def p(text: str, expect: str | None = None) -> Expr:
    return parse(text, field="f", expect=expect)  # type: ignore[arg-type]


A, B, C, D = Name("a.x"), Name("b.y"), Name("c.z"), Name("d.w")


def n(value: str | int) -> Num:
    return Num(Fraction(value))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", "0"),
        ("42", "42"),
        ("1.5", "3/2"),
        (".5", "1/2"),
        ("5.", "5"),
        ("1e3", "1000"),
        ("1E3", "1000"),
        ("2.5e-2", "1/40"),
        ("2.5e+2", "250"),
        ("0.001", "1/1000"),
        ("0.1", "1/10"),
        ("1000000000000000", "1000000000000000"),
        ("0.000000000000001", "1/1000000000000000"),
        ("1.00000000000000000000", "1"),
        ("123456789.123456789", "123456789123456789/1000000000"),
        ("0e15", "0"),
        ("0.0e-15", "0"),
    ],
)
def test_numbers_are_exact_fractions(text: str, value: str) -> None:
    expr = p(text)
    assert expr == Num(Fraction(value))
    assert isinstance(expr, Num) and isinstance(expr.value, Fraction)


def test_names_keep_their_dotted_text_and_position() -> None:
    expr = p("  gateway.timeout_ms")
    assert expr == Name("gateway.timeout_ms")
    assert isinstance(expr, Name)
    assert (expr.pos, expr.scope, expr.attr) == (2, "gateway", "timeout_ms")
    assert p("env.arrival_rps") == Name("env.arrival_rps")
    assert p("system.latency_ms") == Name("system.latency_ms")
    assert p("_c1.p_2") == Name("_c1.p_2")


def test_booleans() -> None:
    assert p("true") == BoolLit(True)
    assert p("false") == BoolLit(False)


def test_multiplication_binds_tighter_than_addition() -> None:
    assert p("a.x + b.y * c.z") == BinOp("+", A, BinOp("*", B, C))
    assert p("a.x * b.y + c.z") == BinOp("+", BinOp("*", A, B), C)
    assert p("(a.x + b.y) * c.z") == BinOp("*", BinOp("+", A, B), C)


def test_arithmetic_is_left_associative() -> None:
    assert p("a.x - b.y - c.z") == BinOp("-", BinOp("-", A, B), C)
    assert p("a.x / b.y / c.z") == BinOp("/", BinOp("/", A, B), C)
    assert p("a.x % b.y * c.z") == BinOp("*", BinOp("%", A, B), C)
    assert p("a.x - (b.y - c.z)") == BinOp("-", A, BinOp("-", B, C))


def test_unary_minus_binds_tighter_than_multiplication() -> None:
    assert p("-a.x * b.y") == BinOp("*", Neg(A), B)
    assert p("a.x * -b.y") == BinOp("*", A, Neg(B))
    assert p("-(a.x * b.y)") == Neg(BinOp("*", A, B))
    assert p("- -a.x") == Neg(Neg(A))
    assert p("--a.x") == Neg(Neg(A))
    assert p("a.x - -1") == BinOp("-", A, Neg(n(1)))


def test_negative_literals_are_not_folded() -> None:
    assert p("-5") == Neg(n(5))
    assert p("1 / 3") == BinOp("/", n(1), n(3))


def test_comparisons_bind_looser_than_arithmetic() -> None:
    assert p("a.x + 1 <= b.y * 2") == Compare(("<=",), (BinOp("+", A, n(1)), BinOp("*", B, n(2))))


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_every_comparison_operator(op: str) -> None:
    assert p(f"a.x {op} b.y") == Compare((op,), (A, B))  # type: ignore[arg-type]


def test_chained_comparison_is_one_node() -> None:
    assert p("5 <= env.x <= 40") == Compare(("<=", "<="), (n(5), Name("env.x"), n(40)))
    assert p("a.x < b.y == c.z != d.w") == Compare(("<", "==", "!="), (A, B, C, D))


def test_chained_comparison_differs_from_conjunction() -> None:
    chained = p("a.x < b.y < c.z")
    conj = p("a.x < b.y and b.y < c.z")
    assert chained != conj
    assert conj == BoolOp("and", (Compare(("<",), (A, B)), Compare(("<",), (B, C))))


def test_boolean_precedence_or_and_not() -> None:
    x, y, z = (Compare((">",), (v, n(0))) for v in (A, B, C))
    assert p("a.x > 0 or b.y > 0 and c.z > 0") == BoolOp("or", (x, BoolOp("and", (y, z))))
    assert p("a.x > 0 and b.y > 0 or c.z > 0") == BoolOp("or", (BoolOp("and", (x, y)), z))
    assert p("not a.x > 0 and b.y > 0") == BoolOp("and", (Not(x), y))
    assert p("not (a.x > 0 and b.y > 0)") == Not(BoolOp("and", (x, y)))
    assert p("not not true") == Not(Not(BoolLit(True)))


def test_boolean_chains_are_flattened_but_parentheses_are_kept() -> None:
    t, f = BoolLit(True), BoolLit(False)
    assert p("true and false and true") == BoolOp("and", (t, f, t))
    assert p("true or false or true or false") == BoolOp("or", (t, f, t, f))
    assert p("(true and false) and true") == BoolOp("and", (BoolOp("and", (t, f)), t))
    assert p("true and (false and true)") == BoolOp("and", (t, BoolOp("and", (f, t))))


def test_functions() -> None:
    assert p("min(a.x, b.y)") == Call("min", (A, B))
    assert p("max(a.x, b.y, c.z, 1)") == Call("max", (A, B, C, n(1)))
    assert p("abs(a.x - b.y)") == Call("abs", (BinOp("-", A, B),))
    assert p("min(max(a.x, 1), abs(-b.y))") == Call(
        "min", (Call("max", (A, n(1))), Call("abs", (Neg(B),)))
    )
    assert p("min ( a.x , b.y )") == Call("min", (A, B))


def test_whitespace_is_insignificant() -> None:
    assert p("a.x+b.y*c.z") == p(" a.x\t+\nb.y *\r\nc.z ")


def test_design_example_predicates() -> None:
    retry = p("gateway.timeout_ms * (gateway.retries + 1) <= 2000", "bool")
    assert retry == Compare(
        ("<=",),
        (
            BinOp(
                "*",
                Name("gateway.timeout_ms"),
                BinOp("+", Name("gateway.retries"), n(1)),
            ),
            n(2000),
        ),
    )
    assert names(retry) == {"gateway.timeout_ms", "gateway.retries"}
    assert p("orders.dropped == 0", "bool") == Compare(("==",), (Name("orders.dropped"), n(0)))


def test_positions_point_at_the_start_of_each_node() -> None:
    expr = p("a.x + (b.y * -c.z)")
    assert isinstance(expr, BinOp)
    assert expr.pos == 0
    assert expr.right.pos == 7  # inside the parentheses: where b.y starts
    assert isinstance(expr.right, BinOp)
    assert expr.right.right.pos == 13  # the unary minus
    assert [(nd.name, nd.pos) for nd in name_nodes(expr)] == [("a.x", 0), ("b.y", 7), ("c.z", 14)]


def test_name_nodes_lists_every_occurrence_in_source_order() -> None:
    expr = p("min(b.y, a.x) < a.x and not b.y == c.z")
    found = [(nd.name, nd.pos) for nd in name_nodes(expr)]
    assert found == [("b.y", 4), ("a.x", 9), ("a.x", 16), ("b.y", 28), ("c.z", 35)]


def test_expect_controls_the_result_type() -> None:
    assert p("a.x + 1", "num") == BinOp("+", A, n(1))
    assert p("a.x + 1", None) == BinOp("+", A, n(1))
    assert p("a.x > 1", None) == Compare((">",), (A, n(1)))
    assert p("true", "bool") == BoolLit(True)


def test_default_expectation_is_boolean() -> None:
    assert parse("a.x > 1", field="f") == Compare((">",), (A, n(1)))


def test_types_of_results() -> None:
    assert p("a.x + 1").type == "num"
    assert p("min(a.x, 1)").type == "num"
    assert p("a.x > 1 or false").type == "bool"
