"""Name, label and metadata validation with the real API server's rules and messages.

A real server rejects a bad label value or object name with 422; an emulator
that accepted them would let the operator ship manifests a cluster refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import Cause

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Annotations of one object may hold at most this many bytes (keys plus values).
ANNOTATIONS_MAX_BYTES = 256 * 1024


def dns1123_label(value: str) -> str | None:
    """None when valid, else the real server's message."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.match(value):
        return (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character"
        )
    return None


def dns1123_subdomain(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(value):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


def dns1035_label(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035_LABEL.match(value):
        return (
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character"
        )
    return None


def path_segment(value: str) -> str | None:
    """The loosest rule (RBAC objects): usable as one URL path segment."""
    if value in (".", ".."):
        return f"may not be '{value}'"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain '{bad}'"
    return None


def qualified_name(value: str) -> str | None:
    """Label/annotation keys and finalizers: ``[prefix/]name``."""
    prefix, sep, name = value.rpartition("/")
    if sep:
        if not prefix:
            return "prefix part must be non-empty"
        msg = dns1123_subdomain(prefix)
        if msg:
            return f"prefix part {msg}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )
    return None


def label_value(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return None


def _invalid(field: str, value: Any, message: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_quote(value)}: {message}", field)


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def validate_metadata(meta: Mapping[str, Any], name_rule: str) -> list[Cause]:
    """Check name, labels, annotations, finalizers and ownerReferences.

    ``name_rule`` is one of ``subdomain``, ``label``, ``dns1035``, ``segment``.
    """
    causes: list[Cause] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(
            Cause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        )
    else:
        check = {
            "subdomain": dns1123_subdomain,
            "label": dns1123_label,
            "dns1035": dns1035_label,
            "segment": path_segment,
        }[name_rule]
        msg = check(name)
        if msg:
            causes.append(_invalid("metadata.name", name, msg))
    labels = meta.get("labels") or {}
    if not isinstance(labels, Mapping):
        causes.append(_invalid("metadata.labels", labels, "must be a map of strings"))
    else:
        for key, value in labels.items():
            msg = qualified_name(str(key))
            if msg:
                causes.append(_invalid("metadata.labels", key, msg))
            if not isinstance(value, str):
                causes.append(_invalid(f"metadata.labels.{key}", value, "must be a string"))
                continue
            msg = label_value(value)
            if msg:
                causes.append(_invalid("metadata.labels", value, msg))
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, Mapping):
        causes.append(_invalid("metadata.annotations", annotations, "must be a map of strings"))
    else:
        total = 0
        for key, value in annotations.items():
            msg = qualified_name(str(key).lower())
            if msg:
                causes.append(_invalid("metadata.annotations", key, msg))
            if not isinstance(value, str):
                causes.append(_invalid(f"metadata.annotations.{key}", value, "must be a string"))
                continue
            total += len(str(key)) + len(value.encode())
        if total > ANNOTATIONS_MAX_BYTES:
            causes.append(
                Cause(
                    "FieldValueTooLong",
                    f"Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes",
                    "metadata.annotations",
                )
            )
    finalizers = meta.get("finalizers") or []
    if not isinstance(finalizers, list):
        causes.append(_invalid("metadata.finalizers", finalizers, "must be a list of strings"))
    else:
        for index, fin in enumerate(finalizers):
            msg = qualified_name(fin) if isinstance(fin, str) else "must be a string"
            if msg:
                causes.append(_invalid(f"metadata.finalizers[{index}]", fin, msg))
    owners = meta.get("ownerReferences") or []
    if not isinstance(owners, list):
        causes.append(_invalid("metadata.ownerReferences", owners, "must be a list"))
    else:
        controllers = 0
        for index, ref in enumerate(owners):
            where = f"metadata.ownerReferences[{index}]"
            if not isinstance(ref, Mapping):
                causes.append(_invalid(where, ref, "must be an object"))
                continue
            for key in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(key):
                    causes.append(Cause("FieldValueRequired", "Required value", f"{where}.{key}"))
            if ref.get("controller"):
                controllers += 1
        if controllers > 1:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "Invalid value: only one reference can have Controller set to true",
                    "metadata.ownerReferences",
                )
            )
    return causes
