"""Decoding the protobuf request bodies kubectl's imperative commands send.

``kubectl create namespace|configmap|secret|serviceaccount`` and ``kubectl
auth can-i|whoami`` post ``application/vnd.kubernetes.protobuf`` bodies (the
``k8s\\0`` envelope around a ``runtime.Unknown`` holding the generated-proto
object). This module reads those kinds, with the field numbers of k8s.io/api's
generated.proto (checked against kubectl's bytes); any other kind, or a field
it does not know that carries a value, is a 415 asking for JSON, never a
silently dropped field. Responses are always JSON (kubectl accepts it).
"""

from __future__ import annotations

import base64
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"

# A field: (json name, decoder). Decoders: "string", "bytes", "int", "bool",
# ("message", table), ("map", value decoder), ("repeated", decoder).
Field = tuple[str, Any]
Table = dict[int, Field]

_OWNER_REFERENCE: Table = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Table = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    4: ("selfLink", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "ignore"),
    9: ("deletionTimestamp", "ignore"),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")),
    13: ("ownerReferences", ("repeated", ("message", _OWNER_REFERENCE))),
    14: ("finalizers", ("repeated", "string")),
    17: ("managedFields", "ignore"),
}
_OBJECT_REFERENCE: Table = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
_RESOURCE_ATTRIBUTES: Table = {
    1: ("namespace", "string"),
    2: ("verb", "string"),
    3: ("group", "string"),
    4: ("version", "string"),
    5: ("resource", "string"),
    6: ("subresource", "string"),
    7: ("name", "string"),
}
_NON_RESOURCE_ATTRIBUTES: Table = {1: ("path", "string"), 2: ("verb", "string")}
KINDS: dict[tuple[str, str], Table] = {
    ("v1", "ConfigMap"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("data", ("map", "string")),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("data", ("map", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string")),
        5: ("immutable", "bool"),
    },
    ("v1", "Namespace"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("spec", ("message", {1: ("finalizers", ("repeated", "string"))})),
        3: ("status", ("message", {1: ("phase", "string")})),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("secrets", ("repeated", ("message", _OBJECT_REFERENCE))),
        3: ("imagePullSecrets", ("repeated", ("message", {1: ("name", "string")}))),
        4: ("automountServiceAccountToken", "bool"),
    },
    # `kubectl auth can-i` and `kubectl auth whoami`; the server writes the status.
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: (
            "spec",
            (
                "message",
                {
                    1: ("resourceAttributes", ("message", _RESOURCE_ATTRIBUTES)),
                    2: ("nonResourceAttributes", ("message", _NON_RESOURCE_ATTRIBUTES)),
                },
            ),
        ),
        3: ("status", "ignore"),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("spec", ("message", {1: ("namespace", "string")})),
        3: ("status", "ignore"),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("status", "ignore"),
    },
}


def _unsupported(message: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"{message}; the emulator reads protobuf only for {', '.join(k for _, k in KINDS)}: send JSON (e.g. kubectl apply -f)",
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _unsupported("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int, Any]]:
    """The wire-format fields of a message: (number, wire type, int or bytes)."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos : pos + length]
            pos += length
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise _unsupported(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()  # JSON carries bytes as base64
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "bool":
        return bool(value)
    raise AssertionError(kind)


def _empty(value: Any) -> bool:
    return value in (b"", 0, None) or (isinstance(value, bytes | bytearray) and not value)


def decode_message(data: bytes, table: Table, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number not in table:
            if _empty(value):
                continue
            raise _unsupported(f"protobuf field {number} of {where} is not understood")
        name, kind = table[number]
        decoded = _decode_value(kind, value, f"{where}.{name}")
        if isinstance(kind, tuple) and kind[0] in ("map", "repeated"):
            container = out.setdefault(name, {} if kind[0] == "map" else [])
            if kind[0] == "map":
                container.update(decoded)
            else:
                container.append(decoded)
        elif decoded is not None:
            out[name] = decoded
    # Empty scalars and empty messages mean "unset" in the JSON form (omitempty).
    return {
        k: v
        for k, v in out.items()
        if v not in ("", {}, [], None) and not (k == "generation" and v == 0)
    }


def _decode_value(kind: Any, value: Any, where: str) -> Any:
    if kind == "ignore":
        return None
    if isinstance(kind, str):
        return _scalar(kind, value)
    shape, inner = kind
    if shape == "message":
        return decode_message(bytes(value), inner, where)
    if shape == "map":
        entry = dict((n, v) for n, _, v in fields(bytes(value)))
        key = _scalar("string", entry.get(1, b""))
        return {key: _scalar(inner, entry.get(2, b""))}
    if shape == "repeated":
        return _decode_value(inner, value, where)
    raise AssertionError(shape)


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a ``k8s\\0``-enveloped protobuf body; 415 when unsupported."""
    if not body.startswith(MAGIC):
        raise _unsupported("the protobuf body lacks the k8s envelope")
    envelope = {n: v for n, _, v in fields(body[len(MAGIC) :])}
    type_meta = {n: v for n, _, v in fields(bytes(envelope.get(1, b"")))}
    api_version = _scalar("string", type_meta.get(1, b""))
    kind = _scalar("string", type_meta.get(2, b""))
    if _scalar("string", envelope.get(3, b"")):
        raise _unsupported("compressed protobuf bodies are not supported")
    table = KINDS.get((api_version, kind))
    if table is None:
        raise _unsupported(f"protobuf bodies of {api_version} {kind} are not supported")
    obj = decode_message(bytes(envelope.get(2, b"")), table, kind)
    return {"apiVersion": api_version, "kind": kind, **obj}
