"""Random and hostile text: the parser only ever returns a tree or raises
ExpressionError, quickly, and never runs anything."""

from __future__ import annotations

import re
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import upir.expr
from upir.errors import ExpressionError
from upir.expr import ExprLimits, parse, to_source

BLOWUP_S = 10.0
"""Wall-clock bound that only catches a blow-up: a parse takes at most ~1 ms (42,000
characters of nesting included), while an exponential parse, or a quadratic one on
the deep-nesting inputs, would run far past 10 s. On a shared machine a tighter bound
fails by chance; speed targets live in benchmarks/, not in timed tests."""


def _parse_or_error(text: str, limits: ExprLimits | None = None) -> None:
    start = time.perf_counter()
    try:
        expr = parse(text, field="f", expect=None, limits=limits or ExprLimits())
    except ExpressionError as err:
        assert err.field == "f"
        assert err.issues[0].message
        str(err).encode("utf-8")  # printable in any log, even for lone surrogates
        pos = err.position
        assert pos is not None and 0 <= pos <= len(text)
    else:
        # Whatever parses round-trips through the printer.
        assert parse(to_source(expr), field="f", expect=expr.type) == expr
    assert time.perf_counter() - start < BLOWUP_S


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_text(text: str) -> None:
    _parse_or_error(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=300))
def test_arbitrary_ascii_text(text: str) -> None:
    _parse_or_error(text)


TOKENS = [
    "a.b",
    "env.x",
    "system.latency_ms",
    "x",
    "a.b.c",
    "_",
    "__import__",
    "__class__",
    ".",
    "0",
    "1",
    "2.5",
    ".5",
    "5.",
    "1e3",
    "2.5e-2",
    "1e99",
    "9" * 25,
    "0x1",
    "1_0",
    "e",
    "(",
    ")",
    "(",
    ")",
    ",",
    "+",
    "-",
    "-",
    "*",
    "/",
    "%",
    "**",
    "//",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=",
    "!",
    "and",
    "or",
    "not",
    "true",
    "false",
    "True",
    "min",
    "max",
    "abs",
    "foo",
    "lambda",
    "if",
    "'",
    '"',
    ";",
    "[",
    "]",
    "\x00",
    "\uff0e",
    "\u0430",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=60),
    st.sampled_from(["", " ", "  ", "\t"]),
)
def test_token_soup(tokens: list[str], sep: str) -> None:
    _parse_or_error(sep.join(tokens))


# Mostly-valid token soups: the grammar's own alphabet only, so many of them parse.
VALID_TOKENS = ["a.b", "c.d", "1", "0.5", "(", ")", "+", "-", "*", "/", "%", "<", "<=", "=="]
VALID_TOKENS += ["and", "or", "not", "true", "false", "min(", "max(", "abs(", ","]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VALID_TOKENS), min_size=1, max_size=40))
def test_grammar_alphabet_soup(tokens: list[str]) -> None:
    _parse_or_error(" ".join(tokens))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["(", "-", "not ", "min(", "abs(", "-(", "a.b + (", "a.b * -"]),
    st.integers(min_value=50, max_value=6000),
)
def test_deep_nesting_never_blows_the_stack(prefix: str, count: int) -> None:
    _parse_or_error(prefix * count + "1", ExprLimits(max_length=100_000))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "gateway.timeout_ms * (gateway.retries + 1) <= 2000",
            "5 <= env.gateway_service_ms <= 40 and not orders.dropped > 0",
            "max(a.b, -c.d) % 3 != abs(1.5e-3 - e.f) or false",
        ]
    ),
    st.integers(min_value=0, max_value=200),
    st.text(max_size=3),
    st.integers(min_value=0, max_value=3),
)
def test_mutated_valid_expressions(base: str, where: int, insert: str, delete: int) -> None:
    i = where % (len(base) + 1)
    _parse_or_error(base[:i] + insert + base[i + delete :])


def test_the_expression_package_never_evaluates_code() -> None:
    """No eval/exec/compile/literal_eval/dynamic import anywhere in upir/expr."""
    forbidden = re.compile(
        r"\b(eval|exec|compile|literal_eval|__import__|importlib|getattr|setattr|"
        r"globals|locals|vars|pickle|marshal|subprocess|os\.system)\s*\("
    )
    package_dir = Path(upir.expr.__file__).parent
    sources = sorted(package_dir.glob("*.py"))
    assert len(sources) >= 6
    for path in sources:
        code = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(code.splitlines(), 1):
            assert not forbidden.search(line), f"{path.name}:{lineno}: {line.strip()}"
        assert "import ast" not in code and "from ast" not in code, path.name
