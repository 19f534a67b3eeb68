"""Whitelist tokenizer of the expression language.

Only ASCII letters, digits, ``_ . + - * / % < > = ! ( ) ,`` and the whitespace
characters space, tab, CR and LF are accepted; anything else is rejected at its
position. Tokens are produced one at a time (:func:`next_token`) so that the
parser reports the leftmost problem first.

Numbers are decimal only (``12``, ``1.5``, ``.5``, ``2.5e-2``) and become exact
:class:`~fractions.Fraction` values. Every numeric limit is checked on the digit
strings *before* converting anything to an integer, so a literal such as
``1e999999`` or a thousand nines costs microseconds, never a huge computation.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from fractions import Fraction

from upir.errors import ExpressionError
from upir.expr.limits import ExprLimits

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_DIGITS = frozenset("0123456789")
_IDENT = _LETTERS | _DIGITS
_SPACE = frozenset(" \t\r\n")

#: Words that are tokens of the language and therefore never parts of a name.
KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
FUNCTIONS = frozenset({"min", "max", "abs"})
RESERVED = KEYWORDS | FUNCTIONS

# Two-character operators first so that "<=" is not read as "<" then "=".
_OPERATORS_2 = ("<=", ">=", "==", "!=")
_OPERATORS_1 = frozenset("+-*/%<>(),")

# Characters or pairs that look like an operator a user might expect, with advice.
_FORBIDDEN_OPERATORS: tuple[tuple[str, str], ...] = (
    ("**", "'**' is not allowed (no powers); write the multiplication out"),
    ("//", "'//' is not allowed; '/' is exact division"),
    ("&&", "'&&' is not allowed; use 'and'"),
    ("||", "'||' is not allowed; use 'or'"),
    ("=", "'=' is not allowed; use '==' to compare"),
    ("!", "'!' is not allowed; use 'not' (or '!=' to compare)"),
    ("&", "'&' is not allowed; use 'and'"),
    ("|", "'|' is not allowed; use 'or'"),
    ("^", "'^' is not allowed (no powers or bitwise operators)"),
    ("~", "'~' is not allowed (no bitwise operators)"),
    ('"', "strings are not allowed"),
    ("'", "strings are not allowed"),
)

_WORD_HINTS = {
    "True": "'True' is not allowed; use 'true'",
    "False": "'False' is not allowed; use 'false'",
    "AND": "'AND' is not allowed; use 'and'",
    "OR": "'OR' is not allowed; use 'or'",
    "NOT": "'NOT' is not allowed; use 'not'",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``kind`` is ``num``, ``name``, ``func``, ``eof``, or the operator
    or keyword text itself (``+``, ``<=``, ``(``, ``and``, ``true``, ...)."""

    kind: str
    text: str
    pos: int
    value: Fraction | None = None

    def describe(self) -> str:
        """How the token reads in an error message."""
        return "end of input" if self.kind == "eof" else f"'{self.text}'"


def _char_name(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


def _run_end(text: str, pos: int) -> int:
    """End of the run of identifier characters and dots starting at ``pos``."""
    end = pos
    while end < len(text) and (text[end] in _IDENT or text[end] == "."):
        end += 1
    return end


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _power_of_ten(value: int) -> str:
    digits = str(value)
    if digits[0] == "1" and set(digits[1:]) <= {"0"} and len(digits) > 4:
        return f"1e{len(digits) - 1}"
    return digits


def next_token(text: str, pos: int, field: str, limits: ExprLimits) -> Token:
    """The token starting at or after ``pos`` (leading whitespace skipped)."""
    n = len(text)
    while pos < n and text[pos] in _SPACE:
        pos += 1
    if pos >= n:
        return Token("eof", "", n)
    ch = text[pos]
    if ch in _DIGITS or (ch == "." and pos + 1 < n and text[pos + 1] in _DIGITS):
        return _number(text, pos, field, limits)
    if ch in _LETTERS:
        return _word(text, pos, field, limits)
    for op in _OPERATORS_2:
        if text.startswith(op, pos):
            return Token(op, op, pos)
    for bad, message in _FORBIDDEN_OPERATORS:
        if text.startswith(bad, pos):
            raise ExpressionError(field, message, pos)
    if ch in _OPERATORS_1:
        return Token(ch, ch, pos)
    raise ExpressionError(field, f"unexpected character {_char_name(ch)}", pos)


def _digits(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _DIGITS:
        pos += 1
    return pos


def _number(text: str, start: int, field: str, limits: ExprLimits) -> Token:
    i = _digits(text, start)
    int_part = text[start:i]
    frac_part = ""
    if i < len(text) and text[i] == ".":
        j = i + 1
        i = _digits(text, j)
        frac_part = text[j:i]
    exp_sign = 1
    exp_digits = "0"
    if i < len(text) and text[i] in "eE":
        k = i + 1
        if k < len(text) and text[k] in "+-":
            exp_sign = -1 if text[k] == "-" else 1
            k += 1
        end = _digits(text, k)
        if end == k:
            bad = text[start : _run_end(text, k)]
            raise ExpressionError(field, f"invalid number '{_shorten(bad)}'", start)
        exp_digits = text[k:end]
        i = end
    if i < len(text) and (text[i] in _IDENT or text[i] == "."):
        bad = text[start : _run_end(text, start)]
        raise ExpressionError(
            field,
            f"invalid number '{_shorten(bad)}': only plain decimal numbers are allowed",
            start,
        )
    literal = text[start:i]
    if len(int_part) > 1 and int_part[0] == "0":
        raise ExpressionError(
            field, f"invalid number '{_shorten(literal)}': leading zeros are not allowed", start
        )
    value = _literal_value(literal, int_part, frac_part, exp_sign, exp_digits, start, field, limits)
    return Token("num", literal, start, value)


def _literal_value(
    literal: str,
    int_part: str,
    frac_part: str,
    exp_sign: int,
    exp_digits: str,
    start: int,
    field: str,
    limits: ExprLimits,
) -> Fraction:
    """The exact value of a decimal literal, after checking every numeric limit on
    the digit strings (no big integer is ever built from unchecked input)."""
    shown = _shorten(literal)
    exp_stripped = exp_digits.lstrip("0")
    if len(exp_stripped) > len(str(limits.max_exponent)) or int(exp_stripped or "0") > (
        limits.max_exponent
    ):
        raise ExpressionError(
            field, f"exponent of '{shown}' is too large (limit {limits.max_exponent})", start
        )
    exponent = exp_sign * int(exp_stripped or "0")
    mantissa = (int_part + frac_part).lstrip("0")
    if not mantissa:
        return Fraction(0)
    significant = mantissa.rstrip("0")
    if len(significant) > limits.max_literal_digits:
        raise ExpressionError(
            field,
            f"number '{shown}' has {len(significant)} significant digits "
            f"(limit {limits.max_literal_digits})",
            start,
        )
    # value = int(mantissa) * 10**(exponent - len(frac_part)); `lead` is the decimal
    # position of its first digit, so 10**lead <= value < 10**(lead + 1).
    lead = len(mantissa) - 1 + exponent - len(frac_part)
    if lead < -limits.max_exponent:
        raise ExpressionError(
            field,
            f"number '{shown}' is too small: nonzero numbers need a magnitude of at least "
            f"1e-{limits.max_exponent}",
            start,
        )
    too_large = f"number '{shown}' is too large (limit {_power_of_ten(limits.max_abs_literal)})"
    if lead >= len(str(limits.max_abs_literal)):
        raise ExpressionError(field, too_large, start)
    value = Fraction(int(significant)) * Fraction(10) ** (lead - len(significant) + 1)
    if value > limits.max_abs_literal:
        raise ExpressionError(field, too_large, start)
    return value


def _word(text: str, start: int, field: str, limits: ExprLimits) -> Token:
    end = _run_end(text, start)
    if end < len(text) and not text[end].isascii():
        # A lookalike glued to a name ("gateway\uff0etimeout_ms", a Cyrillic letter)
        # is reported where it is, not as a malformed shorter name.
        raise ExpressionError(field, f"unexpected character {_char_name(text[end])}", end)
    word = text[start:end]
    if len(word) > limits.max_name_length:
        raise ExpressionError(
            field,
            f"name '{_shorten(word)}' is too long: {len(word)} characters "
            f"(limit {limits.max_name_length})",
            start,
        )
    if "." not in word:
        if word in KEYWORDS:
            return Token(word, word, start)
        if word in FUNCTIONS:
            return Token("func", word, start)
        after = end
        while after < len(text) and text[after] in _SPACE:
            after += 1
        if after < len(text) and text[after] == "(":
            raise ExpressionError(
                field, f"unknown function '{word}' (only min, max and abs exist)", start
            )
        if word in _WORD_HINTS:
            raise ExpressionError(field, _WORD_HINTS[word], start)
        if keyword.iskeyword(word):
            raise ExpressionError(field, f"'{word}' is not allowed", start)
        raise ExpressionError(field, f"name must be <component>.<name>, got '{word}'", start)
    parts = word.split(".")
    if len(parts) != 2 or not all(p and p[0] in _LETTERS for p in parts):
        raise ExpressionError(
            field, f"name must be <component>.<name>, got '{_shorten(word)}'", start
        )
    for part in parts:
        if part in RESERVED:
            raise ExpressionError(
                field, f"'{part}' is a keyword and cannot be part of a name", start
            )
        if part.startswith("__"):
            raise ExpressionError(
                field, f"name parts must not start with '__', got '{_shorten(word)}'", start
            )
    return Token("name", word, start)
