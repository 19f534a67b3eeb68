"""The certificate payload: its fields, constants and structural checks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Protocol

from upir.core.numbers import to_json_number
from upir.errors import PermanentError

API_VERSION = "upir.dev/v1alpha1"
KIND = "ProofCertificate"
ALGORITHM = "Ed25519"
SOLVER_NAME = "z3"
PROVED = "PROVED"

MAX_ENVELOPE_BYTES = 1 << 20
"""Largest envelope :func:`verify_certificate` reads, bytes (1 MiB)."""

ENVELOPE_KEYS = frozenset({"payload", "signature", "algorithm", "keyId", "publicKey"})
ENVELOPE_REQUIRED = frozenset({"payload", "signature", "algorithm", "keyId"})
_PAYLOAD_KEYS = frozenset(
    {
        "apiVersion",
        "kind",
        "subject",
        "specHash",
        "contentHash",
        "parameters",
        "verdicts",
        "solver",
        "model",
        "issuedAt",
        "keyId",
    }
)
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_ISSUED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_EXACT_RE = re.compile(r"^-?\d+(/\d+)?$")


class CertificateError(PermanentError):
    """A certificate cannot be issued (a verdict is not PROVED, inputs disagree),
    or a key cannot be loaded."""


# -- the certificate ---------------------------------------------------------


class SupportsVerdict(Protocol):
    """A verdict object (e.g. ``upir.verification.VerificationResult``): ``property``
    is the property's name or an object with a ``name`` (a ``TemporalProperty``);
    ``status`` is a string or a ``str`` enum; ``proof`` is JSON data saying how it
    was proved (``"inductive"``, ``"bounded:8"``, ...)."""

    @property
    def status(self) -> object: ...

    @property
    def proof(self) -> object: ...

    @property
    def property(self) -> object: ...


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    property: str
    status: str
    proof: Any = None
    """JSON data (str, number, list, mapping or null) describing the proof."""

    def to_dict(self) -> dict[str, Any]:
        return {"property": self.property, "status": self.status, "proof": self.proof}


@dataclass(frozen=True, slots=True)
class Certificate:
    """The parsed payload. Parameter values are exact."""

    subject_name: str
    subject_namespace: str | None
    spec_hash: str
    content_hash: str
    parameters: Mapping[str, Fraction]
    verdicts: tuple[VerdictRecord, ...]
    solver_version: str
    model_version: str
    issued_at: datetime
    key_id: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "subject": {"name": self.subject_name, "namespace": self.subject_namespace},
            "specHash": self.spec_hash,
            "contentHash": self.content_hash,
            "parameters": {
                name: {"exact": str(value), "value": to_json_number(value)}
                for name, value in sorted(self.parameters.items())
            },
            "verdicts": [v.to_dict() for v in self.verdicts],
            "solver": {"name": SOLVER_NAME, "version": self.solver_version},
            "model": {"version": self.model_version},
            "issuedAt": format_time(self.issued_at),
            "keyId": self.key_id,
        }

    @classmethod
    def from_payload(cls, data: Any) -> Certificate:
        """Parse and check the structure; raises ``ValueError`` naming the field."""
        if not isinstance(data, dict):
            raise ValueError("payload is not a JSON object")
        if set(data) != _PAYLOAD_KEYS:
            missing = sorted(_PAYLOAD_KEYS - set(data))
            extra = sorted(set(data) - _PAYLOAD_KEYS)
            raise ValueError(f"payload fields wrong (missing {missing}, unexpected {extra})")
        if data["apiVersion"] != API_VERSION or data["kind"] != KIND:
            raise ValueError(f"payload is not a {API_VERSION} {KIND}")
        subject = data["subject"]
        if (
            not isinstance(subject, dict)
            or set(subject) != {"name", "namespace"}
            or not _is_nonempty_str(subject["name"])
            or not (subject["namespace"] is None or _is_nonempty_str(subject["namespace"]))
        ):
            raise ValueError("subject must be {name, namespace}")
        for key in ("specHash", "contentHash"):
            if not isinstance(data[key], str) or not _HASH_RE.match(data[key]):
                raise ValueError(f"{key} must be 64 lowercase hex digits")
        if not isinstance(data["keyId"], str) or not KEY_ID_RE.match(data["keyId"]):
            raise ValueError("keyId must be 16 lowercase hex digits")
        solver, model = data["solver"], data["model"]
        if (
            not isinstance(solver, dict)
            or set(solver) != {"name", "version"}
            or solver["name"] != SOLVER_NAME
            or not _is_nonempty_str(solver["version"])
        ):
            raise ValueError("solver must be {name: z3, version}")
        if (
            not isinstance(model, dict)
            or set(model) != {"version"}
            or not _is_nonempty_str(model["version"])
        ):
            raise ValueError("model must be {version}")
        return cls(
            subject_name=subject["name"],
            subject_namespace=subject["namespace"],
            spec_hash=data["specHash"],
            content_hash=data["contentHash"],
            parameters=_parse_parameters(data["parameters"]),
            verdicts=_parse_verdicts(data["verdicts"]),
            solver_version=solver["version"],
            model_version=model["version"],
            issued_at=parse_time(data["issuedAt"]),
            key_id=data["keyId"],
        )


def _is_nonempty_str(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _parse_parameters(raw: object) -> Mapping[str, Fraction]:
    if not isinstance(raw, dict):
        raise ValueError("parameters must be an object")
    out: dict[str, Fraction] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or set(entry) != {"exact", "value"}:
            raise ValueError(f"parameters.{name} must be {{exact, value}}")
        exact, value = entry["exact"], entry["value"]
        if not isinstance(exact, str) or not _EXACT_RE.match(exact):
            raise ValueError(
                f"parameters.{name}.exact must be an exact rational like '3' or '1/10'"
            )
        frac = Fraction(exact)
        if str(frac) != exact:
            raise ValueError(f"parameters.{name}.exact is not in lowest terms")
        try:
            expected = to_json_number(frac)
        except OverflowError:
            raise ValueError(f"parameters.{name}.exact is out of range") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != expected:
            raise ValueError(f"parameters.{name}.value does not match its exact value")
        out[name] = frac
    return MappingProxyType(out)


def _parse_verdicts(raw: object) -> tuple[VerdictRecord, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("verdicts must be a non-empty list")
    out: list[VerdictRecord] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or set(entry) != {"property", "status", "proof"}:
            raise ValueError(f"verdicts[{i}] must be {{property, status, proof}}")
        if not _is_nonempty_str(entry["property"]):
            raise ValueError(f"verdicts[{i}].property must be a non-empty string")
        if entry["status"] != PROVED:
            # a signature over a non-PROVED verdict is not a proof certificate
            raise ValueError(f"verdicts[{i}].status is {entry['status']!r}, not PROVED")
        out.append(VerdictRecord(entry["property"], PROVED, entry["proof"]))
    return tuple(out)


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds: ``2026-01-02T03:04:05Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CertificateError("certificate time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(raw: object) -> datetime:
    if not isinstance(raw, str) or not _ISSUED_AT_RE.match(raw):
        raise ValueError("issuedAt must be RFC 3339 UTC like 2026-01-02T03:04:05Z")
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"issuedAt is not a real time: {raw}") from None


def key_fingerprint(raw_public_key: bytes) -> str:
    """``keyId``: first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]
