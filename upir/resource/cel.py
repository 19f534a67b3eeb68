"""Evaluating the schema's CEL rules with cel-python, the way the API server does.

Values are converted by the schema, as Kubernetes converts them: ``type: number``
becomes a CEL double (also for JSON integers), ``type: integer`` an int, and
null-valued fields are dropped (the API server prunes them). ``string(double)``
prints the way cel-go prints it, so messages match the cluster's.

This engine is exact but slow (about 1.4 ms per rule evaluation); the validator
uses the Python twins of :mod:`upir.resource.rules` unless asked for this one.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from upir.resource.rules import go_double


@functools.lru_cache(maxsize=256)
def _program(text: str, with_messages: bool) -> celpy.Runner:
    # celpy.Environment() sets the interpreter's recursion limit to 2500; put back
    # whatever the caller had, so building a program changes no global state.
    old_limit = sys.getrecursionlimit()
    try:
        env = celpy.Environment()
        functions: dict[str, Any] | None = {"string": _go_string} if with_messages else None
        return env.program(env.compile(text), functions=functions)
    finally:
        sys.setrecursionlimit(old_limit)


def _go_string(value: Any) -> celtypes.StringType:
    # Arithmetic on doubles can give a plain float rather than a DoubleType.
    if isinstance(value, float):
        return celtypes.StringType(go_double(value))
    return celtypes.StringType(value)


def to_cel(value: Any, schema: Mapping[str, Any]) -> celtypes.Value:
    """``value`` (already valid against ``schema``) as the CEL value ``self`` binds to."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return json_to_cel(value)
    kind = schema.get("type")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra: Mapping[str, Any] | None = schema.get("additionalProperties")
        out: dict[celtypes.Value, celtypes.Value] = {}
        for key, item in value.items():
            sub = props.get(key, extra)
            if item is None or sub is None:
                continue
            out[celtypes.StringType(key)] = to_cel(item, sub)
        return celtypes.MapType(out)
    if kind == "array":
        return celtypes.ListType([to_cel(item, schema["items"]) for item in value])
    if kind == "string":
        return celtypes.StringType(value)
    if kind == "number":
        return celtypes.DoubleType(float(value))
    if kind == "integer":
        return celtypes.IntType(int(value))
    if kind == "boolean":
        return celtypes.BoolType(bool(value))
    return json_to_cel(value)


def _evaluate(text: str, bound: celtypes.Value, with_messages: bool) -> celtypes.Value:
    result = _program(text, with_messages).evaluate({"self": bound})
    if isinstance(result, CELEvalError):
        raise result
    return result


def evaluate_rule(
    entry: Mapping[str, Any], value: Any, schema: Mapping[str, Any]
) -> tuple[bool, str]:
    """Run one ``x-kubernetes-validations`` entry on ``value``.

    Returns ``(passed, message)``; the message is only meaningful when it failed.
    An evaluation error counts as a failure, as in the API server."""
    bound = to_cel(value, schema)
    text: str = entry["rule"]
    try:
        passed = _evaluate(text, bound, False)
    except CELEvalError as err:
        return False, f"rule {text!r} could not be evaluated: {err.args[0] if err.args else err}"
    if isinstance(passed, celtypes.BoolType) and bool(passed):
        return True, ""
    expression = entry.get("messageExpression")
    if expression is not None:
        try:
            return False, str(_evaluate(expression, bound, True))
        except CELEvalError:
            pass  # the API server falls back to the rule's message, then the rule text
    message = entry.get("message")
    return False, str(message) if message is not None else f"failed rule: {text}"
