"""Errors of the expression parser: messages, positions, limits, hostile input."""

from __future__ import annotations

import time

import pytest

from upir.errors import ExpressionError, InvalidSpecError, PermanentError, SettingsError
from upir.expr import DEFAULT_LIMITS, HARD_MAX_DEPTH, ExprLimits, parse

FIELD = "spec.specification.invariants[0].predicate"

BLOWUP_S = 10.0
"""Wall-clock bound that only catches a blow-up: hostile input is refused in ~10 ms,
while evaluating 10**10**10 or anything quadratic in the 100,000-character inputs
would run for minutes. On a shared machine a tighter bound fails by chance; speed
targets live in benchmarks/ and docs/benchmarks.md, not in timed tests."""


def error_of(text: object, expect: str | None = "bool", **limits: int) -> ExpressionError:
    lim = ExprLimits(**limits) if limits else DEFAULT_LIMITS
    with pytest.raises(ExpressionError) as info:
        parse(text, field=FIELD, expect=expect, limits=lim)  # type: ignore[arg-type]
    return info.value


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("foo(1) > 0", "unknown function 'foo'", 0),
        ("a.b + bar (2) > 0", "unknown function 'bar'", 6),
        ("a.b(1) > 0", "unknown function 'a.b'", 0),
        ("a.b ** 2 > 0", "'**' is not allowed", 4),
        ("a.b // 2 > 0", "'//' is not allowed", 4),
        ("a.b = 2", "'=' is not allowed; use '=='", 4),
        ("!(a.b > 2)", "'!' is not allowed; use 'not'", 0),
        ("a.b > 1 && true", "use 'and'", 8),
        ("a.b > 1 || true", "use 'or'", 8),
        ("a.b > 1 & true", "use 'and'", 8),
        ("a.b ^ 2 > 1", "'^' is not allowed", 4),
        ("~a.b > 1", "'~' is not allowed", 0),
        ("a.b == 'x'", "strings are not allowed", 7),
        ('a.b == "x"', "strings are not allowed", 7),
        ("x > 1", "name must be <component>.<name>, got 'x'", 0),
        ("1 < a.b.c", "name must be <component>.<name>, got 'a.b.c'", 4),
        ("a. > 1", "name must be <component>.<name>", 0),
        ("a..b > 1", "name must be <component>.<name>", 0),
        ("a.1b > 1", "name must be <component>.<name>", 0),
        ("a.and > 1", "'and' is a keyword and cannot be part of a name", 0),
        ("min.x > 1", "'min' is a keyword and cannot be part of a name", 0),
        ("x.__class__ > 1", "must not start with '__'", 0),
        ("__x.y > 1", "must not start with '__'", 0),
        ("True", "use 'true'", 0),
        ("a.b > 1 AND true", "use 'and'", 8),
        ("lambda: 1", "'lambda' is not allowed", 0),
        ("1 if true else 2", "'if' is not allowed", 2),
        ("a.b > 1;", "unexpected character ';' (U+003B)", 7),
        ("[1] > 1", "unexpected character '['", 0),
        ("a.b > {1}", "unexpected character '{'", 6),
        ("a.b > 1 # comment", "unexpected character '#'", 8),
        ("a.b @ 2 > 1", "unexpected character '@'", 4),
        ("a.b\x00 > 1", "unexpected character '\\x00' (U+0000)", 3),
        ("a.b >\u00a01", "unexpected character '\\xa0' (U+00A0)", 5),
        ("gateway\uff0etimeout_ms > 1", "unexpected character '．' (U+FF0E)", 7),
        ("g\u0430teway.x > 1", "unexpected character 'а' (U+0430)", 1),
        ("\uff11 > 0", "unexpected character '１' (U+FF11)", 0),
        ("a.b \u2264 1", "unexpected character '≤' (U+2264)", 4),
        ("0x10 > 1", "invalid number '0x10'", 0),
        ("1_000 > 1", "invalid number '1_000'", 0),
        ("1.2.3 > 1", "invalid number '1.2.3'", 0),
        ("1e > 1", "invalid number '1e'", 0),
        ("1e+ > 1", "invalid number '1e+'", 0),
        ("2abc > 1", "invalid number '2abc'", 0),
        ("007 > 1", "leading zeros are not allowed", 0),
        ("", "empty expression", 0),
        (" \t\n", "empty expression", 0),
        ("a.b >", "expected an expression, got end of input", 5),
        ("a.b > * 2", "expected an expression, got '*'", 6),
        ("+1 > 0", "expected an expression, got '+'", 0),
        ("a.b > 1 2", "expected an operator or the end of the expression, got '2'", 8),
        ("a.b c.d", "expected an operator or the end of the expression, got 'c.d'", 4),
        ("a.b > 1, 2", "got ','", 7),
        ("(a.b > 1", "missing ')' to close '(' at position 0", 8),
        ("((a.b) > 1", "missing ')' to close '(' at position 0", 10),
        ("(a.b > 1 true)", "expected ')' to close '(' at position 0, got 'true'", 9),
        ("a.b > 1)", "unmatched ')'", 7),
        ("()", "expected an expression, got ')'", 1),
        ("min(a.b) > 1", "min() needs at least 2 arguments, got 1", 0),
        ("max() > 1", "max() needs at least 2 arguments, got 0", 0),
        ("abs(1, 2) > 1", "abs() takes exactly 1 argument, got 2", 0),
        ("abs() > 1", "abs() takes exactly 1 argument, got 0", 0),
        ("min(1, 2,) > 1", "expected an expression, got ')'", 9),
        ("min(1 2) > 1", "expected ',' or ')' in min(), got '2'", 6),
        ("min(1, 2 + 1", "missing ')' to close 'min(' at position 0", 12),
        ("min > 1", "'min' must be called, like min(a, b, ...)", 0),
        ("abs + 1 > 1", "'abs' must be called, like abs(x)", 0),
        ("a.b / 0 > 1", "division by zero", 4),
        ("a.b % -0.0 > 1", "modulo by zero", 4),
    ],
)
def test_syntax_errors_have_messages_and_positions(text: str, message: str, position: int) -> None:
    err = error_of(text)
    assert err.field == FIELD
    assert message in err.issues[0].message
    assert err.position == position
    assert str(err).startswith(FIELD + ": ")
    assert f"(at position {position})" in str(err)


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("true + 1 > 0", "'+' needs numbers, got a boolean", 0),
        ("1 + (a.b > 1) > 0", "'+' needs numbers, got a boolean", 5),
        ("-true > 1", "unary '-' needs a number, got a boolean", 1),
        ("a.b > 1 > true", "'>' compares numbers, got a boolean", 10),
        ("(a.b > 1) == true", "'==' compares numbers, got a boolean", 1),
        ("a.b and true", "'and' needs boolean operands, got a number", 0),
        ("true or 1", "'or' needs boolean operands, got a number", 8),
        ("not a.b", "'not' needs a boolean operand, got a number", 4),
        ("min(true, 1) > 0", "min() takes numbers, got a boolean", 4),
        ("abs(a.b > 1) > 0", "abs() takes numbers, got a boolean", 4),
        ("a.b > not true", "'not' must be put in parentheses here", 6),
        ("a.b + 1", "expected a boolean expression, got a number", 0),
        ("  min(a.b, 2)", "expected a boolean expression, got a number", 2),
    ],
)
def test_type_errors(text: str, message: str, position: int) -> None:
    err = error_of(text)
    assert message in err.issues[0].message
    assert err.position == position


def test_expect_num_rejects_a_predicate() -> None:
    err = error_of("a.b > 1", expect="num")
    assert err.issues[0].message == "expected a number, got a boolean expression"


def test_error_types_are_the_projects_own() -> None:
    err = error_of("a.b +")
    assert isinstance(err, InvalidSpecError)
    assert isinstance(err, PermanentError)
    assert not err.retryable


@pytest.mark.parametrize("value", [None, 1, 1.5, b"a.b > 1", ["a.b > 1"], {"a": 1}, True])
def test_non_string_input_is_rejected(value: object) -> None:
    err = error_of(value)
    assert "expression must be a string" in err.issues[0].message
    assert err.position is None


# -- limits --------------------------------------------------------------------


def test_length_limit() -> None:
    text = "a.b > " + "1 + " * 600 + "1"
    err = error_of(text)
    assert err.issues[0].message == f"expression too long: {len(text)} characters (limit 2000)"
    assert err.position == 2000
    assert parse("a.b > 1", field=FIELD, limits=ExprLimits(max_length=7)) is not None
    error_of("a.b > 10", max_length=7)


def test_depth_limit_counts_parentheses() -> None:
    ok = "(" * 63 + "a.b" + ")" * 63 + " > 1"
    parse(ok, field=FIELD)
    err = error_of("(" * 65 + "a.b" + ")" * 65 + " > 1")
    assert err.issues[0].message == "expression too deeply nested (limit 64)"
    assert err.position == 64


def test_depth_limit_counts_tree_height() -> None:
    # No parentheses at all: a left-deep sum of 70 terms has height 70.
    err = error_of("a.b" + " + a.b" * 70 + " > 0")
    assert "too deeply nested (limit 64)" in err.issues[0].message
    parse("a.b" + " + a.b" * 60 + " > 0", field=FIELD)
    err = error_of("-" * 80 + "a.b > 0")
    assert "too deeply nested" in err.issues[0].message
    err = error_of("not " * 80 + "true")
    assert "too deeply nested" in err.issues[0].message


def test_depth_limit_is_configurable_but_capped() -> None:
    error_of("((a.b)) > 1", max_depth=1)
    parse("((a.b)) > 1", field=FIELD, limits=ExprLimits(max_depth=2))
    deep = "(" * HARD_MAX_DEPTH + "a.b" + ")" * HARD_MAX_DEPTH + " > 1"
    parse(deep, field=FIELD, limits=ExprLimits(max_depth=HARD_MAX_DEPTH))
    # The worst case for the Python stack at the ceiling: every level a pending right
    # operand, a unary operator and a parenthesis; must parse, not blow the stack.
    half = HARD_MAX_DEPTH // 3
    worst = "a.b * -(" * half + "a.b" + ")" * half + " > 1"
    parse(worst, field=FIELD, limits=ExprLimits(max_depth=HARD_MAX_DEPTH))
    err = error_of(
        "a.b * -(" * (half + 1) + "a.b" + ")" * (half + 1) + " > 1", max_depth=HARD_MAX_DEPTH
    )
    assert "too deeply nested (limit 128)" in err.issues[0].message
    with pytest.raises(SettingsError):
        ExprLimits(max_depth=HARD_MAX_DEPTH + 1)


def test_node_limit() -> None:
    text = "max(" + ", ".join(["a.b"] * 30) + ") > 1"
    parse(text, field=FIELD)
    err = error_of(text, max_nodes=20)
    assert err.issues[0].message == "expression too large: more than 20 nodes (limit 20)"


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1234567890123456789", "has 19 significant digits (limit 18)"),
        ("1.234567890123456789", "has 19 significant digits (limit 18)"),
        ("10000000000000000", "is too large (limit 1e15)"),
        ("1000000000000000.5", "is too large (limit 1e15)"),
        ("9" * 16, "is too large (limit 1e15)"),
        ("1" + "0" * 1900, "is too large (limit 1e15)"),
        ("0.0000000000000001", "is too small"),
        ("0." + "0" * 1900 + "1", "is too small"),
        ("1e16", "exponent of '1e16' is too large (limit 15)"),
        ("1e-16", "exponent of '1e-16' is too large (limit 15)"),
        ("1e999999", "exponent of '1e999999' is too large (limit 15)"),
        ("1e" + "9" * 1900, "is too large (limit 15)"),
        ("9.99e15", "is too large"),
        ("0.01e-15", "is too small"),
    ],
)
def test_literal_limits(literal: str, message: str) -> None:
    err = error_of(f"a.b > {literal}")
    assert message in err.issues[0].message
    assert err.position == 6


@pytest.mark.parametrize(
    "literal",
    ["12345678901234.5678", "1e15", "1000000000000000", "1e-15", "0.001e-12", "999999999999999.9"],
)
def test_literals_at_the_limits_are_accepted(literal: str) -> None:
    parse(f"a.b > {literal}", field=FIELD)


def test_name_length_limit() -> None:
    name = "c." + "p" * 251
    parse(f"{name} > 1", field=FIELD)
    err = error_of(f"{name}x > 1")
    assert "is too long: 254 characters (limit 253)" in err.issues[0].message


@pytest.mark.parametrize(
    "field", ["max_length", "max_depth", "max_nodes", "max_literal_digits", "max_exponent"]
)
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_limits_reject_non_positive_or_non_integer_values(field: str, bad: object) -> None:
    with pytest.raises(SettingsError, match=field):
        ExprLimits(**{field: bad})  # type: ignore[arg-type]


def test_default_limits_are_documented_values() -> None:
    lim = DEFAULT_LIMITS
    assert (lim.max_length, lim.max_depth, lim.max_nodes) == (2000, 64, 1000)
    assert (lim.max_literal_digits, lim.max_abs_literal, lim.max_exponent) == (18, 10**15, 15)


# -- hostile input ---------------------------------------------------------------

HOSTILE = [
    "__import__('os').system('echo pwned')",
    "__import__('os').system('echo pwned') == 0",
    "10**10**10",
    "10**10**10 > 1",
    "9" * 100_000,
    "(" * 5000 + "1" + ")" * 5000,
    "-" * 5000 + "1",
    "not " * 5000 + "true",
    "a.b.c.d",
    "x.__class__",
    "a.b.__class__.__bases__",
    "lambda: 1",
    "[1,2]",
    '"str"',
    "1 if 2 else 3",
    "gateway.timeout_ms; import os",
    "gateway.timeout_ms > 1\nimport os",
    "gateway\uff0etimeout_ms > 1",
    "\u0430.b > 1",
    "a.b > \U0001d7cf",
    "a.b\u200b > 1",
    "a.b > 1\x00",
    "\x00",
    "a" * 100_000 + ".b > 1",
    "a.b" + "c" * 1500 + " > 1",
    "1e999999",
    "1e999999999999999999999999 > 1",
    "0x10",
    "1_000",
    "open('/etc/passwd').read()",
    "getattr(a, 'b')",
    "a.b if true else 1",
    "{}.__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "a.b > 1 or exec('x')",
    "eval('1')",
    "f'{1}'",
    "`ls`",
    "$(ls)",
    "a.b is 1",
    "a.b in (1, 2)",
    "a.b << 2 > 1",
    "@decorator",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:30]))
@pytest.mark.parametrize("max_length", [2000, 200_000])
def test_hostile_input_fails_fast_with_expression_error(text: str, max_length: int) -> None:
    limits = ExprLimits(max_length=max_length)
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as info:
        parse(text, field=FIELD, limits=limits)
    elapsed = time.perf_counter() - start
    assert elapsed < BLOWUP_S, f"took {elapsed:.3f}s"
    assert info.value.field == FIELD
    assert info.value.issues[0].message


def test_five_thousand_parentheses_hit_the_depth_limit_not_the_stack() -> None:
    text = "(" * 5000 + "1" + ")" * 5000
    err = error_of(text, max_length=20_000)
    assert err.issues[0].message == "expression too deeply nested (limit 64)"
    err = error_of("(" * 5000, max_length=20_000)
    assert "too deeply nested" in err.issues[0].message
    err = error_of("min(" * 5000, max_length=20_000)
    assert "too deeply nested" in err.issues[0].message


def test_an_invalid_expect_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="expect must be"):
        parse("a.b > 1", field=FIELD, expect="boolean")  # type: ignore[arg-type]
