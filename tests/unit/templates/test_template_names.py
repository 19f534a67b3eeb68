"""Names, label values, value text and PDB sizing used by the templates."""

import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upir.templates import dns_label, format_value, label_value, min_available

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize("name", ["checkout", "a", "a-b-1", "x" * 63])
def test_valid_names_are_kept(name: str) -> None:
    assert dns_label(name) == name
    assert label_value(name) == name


def test_changed_names_get_a_hash_suffix() -> None:
    long = "a" * 64
    out = dns_label(long)
    assert len(out) == 63 and re.match(r"^a+-[0-9a-f]{8}$", out)
    assert dns_label("My.App") != dns_label("my-app") == "my-app"
    assert dns_label("1st", letter_first=True).startswith("u-1st-")
    assert dns_label("---", letter_first=True)[0].isalpha()


@given(st.text(max_size=300))
def test_any_text_becomes_a_valid_label(text: str) -> None:
    for letter_first in (False, True):
        out = dns_label(text, letter_first=letter_first)
        assert LABEL.match(out) and len(out) <= 63
        if letter_first:
            assert out[0].isalpha()
    value = label_value(text)
    assert LABEL_VALUE.match(value) and len(value) <= 63


@given(st.text(min_size=1, max_size=100), st.text(min_size=1, max_size=100))
def test_different_inputs_that_need_changes_stay_apart(a: str, b: str) -> None:
    if a != b and dns_label(a) != a and dns_label(b) != b:
        assert dns_label(a) != dns_label(b)


@pytest.mark.parametrize(
    "value, text",
    [
        (Fraction(3), "3"),
        (Fraction(-7), "-7"),
        (Fraction(1, 10), "0.1"),
        (Fraction(25, 2), "12.5"),
        (Fraction(-1, 8), "-0.125"),
        (Fraction(1, 1000), "0.001"),
        (Fraction(123456789, 100), "1234567.89"),
        (Fraction(1, 3), "0.3333333333333333"),
    ],
)
def test_format_value(value: Fraction, text: str) -> None:
    assert format_value(value) == text


@given(st.integers(-(10**12), 10**12), st.integers(0, 12), st.integers(0, 12))
def test_terminating_decimals_are_exact(num: int, twos: int, fives: int) -> None:
    value = Fraction(num, 2**twos * 5**fives)
    assert Fraction(format_value(value)) == value


@pytest.mark.parametrize(
    "replicas, availability, expected",
    [
        (1, None, None),
        (1, Fraction(999, 1000), None),
        (2, None, 1),
        (3, Fraction(999, 1000), 2),
        (4, None, 2),
        (10, Fraction(9, 10), 9),
        (10, Fraction(1, 2), 5),
        (10, Fraction(0), 1),
    ],
)
def test_min_available(replicas: int, availability: Fraction | None, expected: int | None) -> None:
    assert min_available(replicas, availability) == expected
