"""Kubernetes names, label values and parameter value strings.

Every generated name is a DNS-1123 label of at most 63 characters. When a name
has to be changed (bad characters, too long), the result ends in ``-`` plus the
first 8 hex digits of SHA-256 over the *original* text, so two different inputs
never collapse onto the same object.
"""

from __future__ import annotations

import hashlib
import re
from fractions import Fraction

from upir.errors import PermanentError

MAX_LABEL = 63
"""Longest DNS-1123 label and label value, characters."""
MAX_SUBDOMAIN = 253
"""Longest DNS-1123 subdomain (most object names), characters."""

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_HASH_LEN = 8


def _suffix(original: str) -> str:
    return hashlib.sha256(original.encode("utf-8")).hexdigest()[:_HASH_LEN]


def dns_label(base: str, *, letter_first: bool = False) -> str:
    """``base`` as a DNS-1123 label (RFC 1123; DNS-1035 when ``letter_first``, as
    Service names need), hash-suffixed when it had to change."""
    ok = _LABEL_RE.match(base) is not None and len(base) <= MAX_LABEL
    if ok and (not letter_first or base[0].isalpha()):
        return base
    cleaned = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")
    head = cleaned[: MAX_LABEL - _HASH_LEN - 1].rstrip("-")
    if letter_first and not head[:1].isalpha():
        head = ("u-" + head)[: MAX_LABEL - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{_suffix(base)}" if head else f"u{_suffix(base)}"


def label_value(value: str) -> str:
    """``value`` as a valid label value (at most 63 characters), hash-suffixed
    when it had to change."""
    if len(value) <= MAX_LABEL and _LABEL_VALUE_RE.match(value):
        return value
    cleaned = re.sub(r"[^-A-Za-z0-9_.]+", "-", value)
    head = cleaned[: MAX_LABEL - _HASH_LEN - 1]
    head = re.sub(r"^[^A-Za-z0-9]+", "", head)
    head = re.sub(r"[^A-Za-z0-9]+$", "", head)
    return f"{head}-{_suffix(value)}" if head else _suffix(value)


def require_object_name(name: str, field: str) -> str:
    """A user-given object name used verbatim (renaming it would address another
    object): it must already be a valid DNS-1123 subdomain."""
    if len(name) > MAX_SUBDOMAIN or not _SUBDOMAIN_RE.match(name):
        raise PermanentError(
            f"{field}: {name!r} is not a valid Kubernetes object name "
            "(lowercase letters, digits, '-' and '.', at most 253 characters)"
        )
    return name


def require_config_key(key: str) -> str:
    if len(key) > MAX_SUBDOMAIN or not _CONFIG_KEY_RE.match(key):
        raise PermanentError(
            f"parameter {key!r} cannot be a ConfigMap key (allowed: letters, digits, '-', '_', '.')"
        )
    return key


def format_value(value: Fraction) -> str:
    """The decimal text of an exact value, for workloads to parse: exact when the
    value has a terminating decimal expansion (``12.5``, ``0.001``), else the
    shortest text that reads back as the nearest double (the certificate keeps the
    exact rational)."""
    if value.denominator == 1:
        return str(value.numerator)
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return repr(float(value))
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    whole, frac = digits[:-places], digits[-places:].rstrip("0")
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac}"
