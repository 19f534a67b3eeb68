"""Check a whole resource document against the UPIR schema, CEL rules included.

:func:`schema_issues` walks the document alongside :data:`upir.resource.schema.UPIR_SCHEMA`
(the CRD's own ``openAPIV3Schema``) and applies what the API server applies:
types, enums, bounds, lengths, patterns, required fields, unknown fields (as
``kubectl --validate=strict`` does), unique keys of ``x-kubernetes-list-type: map``
lists, and every ``x-kubernetes-validations`` rule at its node. As in the API
server, null-valued fields count as absent, and a node's CEL rules run only when
the node itself passed the structural checks.

It never raises on odd input (any Python object); every problem is a
:class:`~upir.errors.FieldIssue` with a readable path such as
``spec.parameters[2].min`` and a plain-English message.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from upir.errors import FieldIssue
from upir.resource.rules import TWINS, go_double
from upir.resource.schema import (
    API_VERSION,
    DNS_LABEL_PATTERN,
    KIND,
    PATTERN_HINTS,
    STATUS_SCHEMA,
    UPIR_SCHEMA,
)

Engine = Literal["python", "cel"]

MAX_ISSUES = 100
"""At most this many issues are listed; a last one says the list was cut."""

DOCUMENT = "document"
"""The ``field`` of issues about the document as a whole."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")
_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}


class _TooMany(Exception):
    pass


class _Issues:
    def __init__(self, limit: int) -> None:
        self.items: list[FieldIssue] = []
        self.limit = limit

    def add(self, field: str, message: str) -> None:
        if len(self.items) >= self.limit:
            raise _TooMany
        self.items.append(FieldIssue(field or DOCUMENT, message))


def describe(value: object) -> str:
    """A short, safe description of any value for messages (never a huge repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else "a very large number"
    if isinstance(value, float):
        return go_double(value)
    if isinstance(value, str):
        if len(value) <= 40:
            return repr(value)
        return f"{value[:40]!r}... ({len(value)} characters)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else go_double(value)


def child(path: str, key: str) -> str:
    """``path`` extended by a mapping key: ``spec.tuning`` or ``spec.objective["p99 ms"]``."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    shown = key if len(key) <= 64 else key[:64] + "..."
    return f"{path}[{json.dumps(shown)}]"


@functools.lru_cache(maxsize=128)
def _regex(pattern: str) -> re.Pattern[str]:
    # Go's RE2 '$' matches only at the very end; Python's also before a final newline.
    if pattern.endswith("$") and not pattern.endswith(r"\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


class _Walker:
    def __init__(self, out: _Issues, engine: Engine, rules: bool) -> None:
        self.out = out
        self.engine = engine
        self.rules = rules

    # ------------------------------------------------------------------ nodes

    def walk(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        before = len(self.out.items)
        kind = schema.get("type")
        if kind is None:  # x-kubernetes-preserve-unknown-fields without a type
            return
        if not self._type_ok(value, kind, schema, path):
            return
        if kind == "object":
            self._object(value, schema, path)
        elif kind == "array":
            self._array(value, schema, path)
        elif kind == "string":
            self._string(value, schema, path)
        elif kind in ("number", "integer"):
            self._bounds(value, schema, path)
        validations = schema.get("x-kubernetes-validations")
        if validations and self.rules and len(self.out.items) == before:
            self._run_rules(value, schema, validations, path)

    def _type_ok(self, value: Any, kind: str, schema: Mapping[str, Any], path: str) -> bool:
        ok: bool
        if kind == "object":
            ok = isinstance(value, Mapping)
        elif kind == "array":
            ok = isinstance(value, list | tuple)
        elif kind == "string":
            ok = isinstance(value, str)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        elif kind in ("number", "integer"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok:
                return self._number_ok(value, kind, path)
        else:  # pragma: no cover - the schema only uses the types above
            ok = True
        if not ok:
            expected = _TYPE_WORDS.get(kind, kind)
            enum = schema.get("enum")
            if enum:
                expected = "one of " + ", ".join(map(str, enum))
            self.out.add(
                path, f"must be {expected} (got {describe(value)}{_bool_hint(value, kind, enum)})"
            )
        return ok

    def _number_ok(self, value: float | int, kind: str, path: str) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            self.out.add(path, f"must be a finite number (got {describe(value)})")
            return False
        if isinstance(value, int):
            try:
                float(value)
            except OverflowError:
                self.out.add(path, "is too large for a number")
                return False
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                self.out.add(path, f"must be a whole number (got {describe(value)})")
                return False
            if not _INT64_MIN <= value <= _INT64_MAX:
                self.out.add(path, f"must fit in 64 bits (got {describe(value)})")
                return False
        return True

    def _object(self, value: Mapping[Any, Any], schema: Mapping[str, Any], path: str) -> None:
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra: Mapping[str, Any] | None = schema.get("additionalProperties")
        # metadata: Kubernetes validates ObjectMeta itself; the schema only narrows name.
        open_fields = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or path == "metadata"
        limit = schema.get("maxProperties")
        if limit is not None and len(value) > limit:
            self.out.add(path, f"must have at most {limit} entries (got {len(value)})")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                self.out.add(path, f"keys must be strings (got {describe(key)})")
                continue
            where = child(path, key)
            sub = props.get(key)
            if sub is not None:
                if item is not None:  # null fields are pruned by the API server: absent
                    self.walk(item, sub, where)
            elif extra is not None:
                self.walk(item, extra, where)
            elif not open_fields:
                self.out.add(where, _unknown_field(key, props))
        for name in schema.get("required") or ():
            if value.get(name) is None:
                enum = props.get(name, {}).get("enum")
                hint = f" (one of {', '.join(enum)})" if enum else ""
                self.out.add(child(path, name), "is required" + hint)

    def _array(self, value: Sequence[Any], schema: Mapping[str, Any], path: str) -> None:
        most, least = schema.get("maxItems"), schema.get("minItems")
        if most is not None and len(value) > most:
            self.out.add(path, f"must have at most {most} items (got {len(value)})")
            return  # do not walk (or pay for) an oversized list
        if least is not None and len(value) < least:
            self.out.add(path, f"must have at least {least} item{'s' if least != 1 else ''}")
        items: Mapping[str, Any] = schema["items"]
        for i, item in enumerate(value):
            self.walk(item, items, f"{path}[{i}]")
        if self.rules and schema.get("x-kubernetes-list-type") == "map":
            self._unique_keys(value, tuple(schema["x-kubernetes-list-map-keys"]), path)

    def _unique_keys(self, value: Sequence[Any], keys: tuple[str, ...], path: str) -> None:
        seen: dict[tuple[Any, ...], int] = {}
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            key = tuple(item.get(k) for k in keys)
            if not all(isinstance(k, str | int | float) and not isinstance(k, bool) for k in key):
                continue  # missing or mistyped keys are reported by the item's own checks
            first = seen.setdefault(key, i)
            if first != i:
                shown = ", ".join(f"{k} {describe(v)}" for k, v in zip(keys, key, strict=True))
                self.out.add(
                    f"{path}[{i}].{keys[0]}", f"duplicate {shown} (already used at index {first})"
                )

    def _string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        enum = schema.get("enum")
        if enum is not None and value not in enum:
            self.out.add(path, f"must be one of {', '.join(enum)} (got {describe(value)})")
            return
        most, least = schema.get("maxLength"), schema.get("minLength")
        if most is not None and len(value) > most:
            self.out.add(path, f"must be at most {most} characters (got {len(value)})")
            return
        if least is not None and len(value) < least:
            self.out.add(
                path, "must not be empty" if least == 1 else f"must be at least {least} characters"
            )
            return
        pattern = schema.get("pattern")
        if pattern is not None and not _regex(pattern).search(value):
            hint = PATTERN_HINTS.get(pattern, f"must match {pattern}")
            self.out.add(path, f"{hint} (got {describe(value)})")
            return
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            self.out.add(
                path,
                f"must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z (got {describe(value)})",
            )

    def _bounds(self, value: float | int, schema: Mapping[str, Any], path: str) -> None:
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None:
            if schema.get("exclusiveMinimum") and not value > low:
                self.out.add(path, f"must be > {_number(low)} (got {describe(value)})")
            elif value < low:
                self.out.add(path, f"must be >= {_number(low)} (got {describe(value)})")
        if high is not None:
            if schema.get("exclusiveMaximum") and not value < high:
                self.out.add(path, f"must be < {_number(high)} (got {describe(value)})")
            elif value > high:
                self.out.add(path, f"must be <= {_number(high)} (got {describe(value)})")

    # ------------------------------------------------------------------ rules

    def _run_rules(
        self,
        value: Any,
        schema: Mapping[str, Any],
        validations: Sequence[Mapping[str, Any]],
        path: str,
    ) -> None:
        for entry in validations:
            text: str = entry["rule"]
            twin = TWINS.get(text)
            if self.engine == "python" and twin is not None:
                passed = twin.check(value)
                message = "" if passed else twin.message_for(value)
            else:
                # Imported here: cel-python is slow to import and only needed for this engine
                # (and for a rule without a twin, which a test forbids).
                from upir.resource.cel import evaluate_rule

                passed, message = evaluate_rule(entry, value, schema)
            if not passed:
                self.out.add(path + str(entry.get("fieldPath", "")), message)


_YAML_BOOLS = {
    "y": True,
    "yes": True,
    "on": True,
    "true": True,
    "n": False,
    "no": False,
    "off": False,
    "false": False,
}


def _bool_hint(value: object, kind: str, enum: Sequence[str] | None) -> str:
    """YAML 1.1 (PyYAML, and kubectl's parser) reads unquoted Off/On/Yes/No as booleans."""
    if kind != "string" or not isinstance(value, bool):
        return ""
    meant = [e for e in enum or () if _YAML_BOOLS.get(e.lower()) is value]
    if meant:
        return f"; YAML reads an unquoted {meant[0]} as {describe(value)}: write '{meant[0]}' in quotes"
    return "; YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value"


def _unknown_field(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7) if len(key) <= 64 else []
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    if known and len(known) <= 10:
        return f"unknown field (known: {', '.join(known)})"
    return "unknown field"


def _check_header(doc: Mapping[Any, Any], out: _Issues) -> None:
    """What the API server checks outside the schema: apiVersion, kind, metadata.name."""
    for field, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        got = doc.get(field)
        if got is None:
            out.add(field, f"is required ({expected})")
        elif got != expected:
            out.add(field, f"must be {expected} (got {describe(got)})")
    meta = doc.get("metadata")
    if meta is None:
        out.add("metadata", "is required (with a name)")
    elif isinstance(meta, Mapping):
        if meta.get("name") is None:
            out.add("metadata.name", "is required")
        namespace = meta.get("namespace")
        if namespace is not None and not (
            isinstance(namespace, str)
            and len(namespace) <= 63
            and _regex(DNS_LABEL_PATTERN).search(namespace)
        ):
            out.add(
                "metadata.namespace",
                f"{PATTERN_HINTS[DNS_LABEL_PATTERN]} (got {describe(namespace)})",
            )


def _check(
    doc: object, *, engine: Engine, rules: bool, header: bool, status_only: bool = False
) -> list[FieldIssue]:
    out = _Issues(MAX_ISSUES)
    try:
        if status_only:
            _Walker(out, engine, rules).walk(doc, STATUS_SCHEMA, "status")
            return out.items
        if not isinstance(doc, Mapping):
            out.add(
                DOCUMENT,
                f"must be a mapping with apiVersion, kind, metadata and spec (got {describe(doc)})",
            )
            return out.items
        if header:
            _check_header(doc, out)
            # apiVersion and kind were just checked against their exact values
            doc = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
        _Walker(out, engine, rules).walk(doc, UPIR_SCHEMA, "")
    except _TooMany:
        out.items.append(
            FieldIssue(DOCUMENT, f"too many problems; only the first {MAX_ISSUES} are listed")
        )
    except RecursionError:
        # The walk follows the schema, so only pathological Mapping/Sequence objects get here.
        out.items.append(FieldIssue(DOCUMENT, "is nested too deeply"))
    return out.items


def schema_issues(doc: object, *, engine: Engine = "python") -> list[FieldIssue]:
    """Every problem of ``doc`` (a whole UPIR resource) against the UPIR schema.

    ``engine`` picks how the CEL rules run: ``"python"`` (their tested Python twins,
    microseconds) or ``"cel"`` (cel-python, about 1.4 ms per rule evaluation). Both
    give the same issues. An empty list means the document is valid. Never raises."""
    return _check(doc, engine=engine, rules=True, header=True)


def structural_issues(doc: object) -> list[FieldIssue]:
    """Only the OpenAPI checks (no CEL, no list-key uniqueness, no apiVersion/kind
    values): what a JSON Schema validator can decide. For cross-checks."""
    return _check(doc, engine="python", rules=False, header=False)


def status_issues(status: object) -> list[FieldIssue]:
    """Every problem of a ``status`` object (what the operator writes) against the
    schema. The API server silently drops status fields the schema does not
    declare, and the test API emulator validates nothing, so the operator's tests
    should assert this is empty for every status they build. Never raises."""
    return _check(status, engine="python", rules=True, header=False, status_only=True)
