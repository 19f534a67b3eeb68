"""Signed proof certificates (Ed25519).

A certificate states: "these exact parameter values of this UPIR were PROVED
against this specification by this solver and model version". It is issued only
when every verdict is ``PROVED`` (the only verdict that ever counts as a pass).

Wire format. The *payload* is the canonical JSON (sorted keys, compact, ASCII;
:func:`upir.core.canonical_json`) of::

    {"apiVersion": "upir.dev/v1alpha1", "kind": "ProofCertificate",
     "subject": {"name", "namespace"}, "specHash", "contentHash",
     "parameters": {"<component>.<param>": {"exact": "1/10", "value": 0.1}},
     "verdicts": [{"property", "status", "proof"}],
     "solver": {"name": "z3", "version"}, "model": {"version"},
     "issuedAt": "2026-01-02T03:04:05Z", "keyId"}

The *envelope* carries the payload as a string (the signed bytes are exactly its
ASCII encoding; nothing is re-serialized before checking), so any verifier in
any language checks the same bytes::

    {"payload": "...", "signature": "<base64, 64 bytes>", "algorithm": "Ed25519",
     "keyId": "<16 hex>", "publicKey": "<base64, 32 raw bytes>"}

``keyId`` is the first 16 hex digits of SHA-256 over the raw 32-byte public key.
The embedded ``publicKey`` only lets a holder check integrity; who signed is
established only against a trusted key given to :func:`verify_certificate`
(the result says ``trusted``).

The library never reads files or the environment: keys come in as bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from upir.core.numbers import Number, to_fraction, to_json_number
from upir.core.specification import canonical_json
from upir.errors import PermanentError

if TYPE_CHECKING:
    from upir.core.upir import UPIR

API_VERSION = "upir.dev/v1alpha1"
KIND = "ProofCertificate"
ALGORITHM = "Ed25519"
SOLVER_NAME = "z3"
PROVED = "PROVED"

MAX_ENVELOPE_BYTES = 1 << 20
"""Largest envelope :func:`verify_certificate` reads, bytes (1 MiB)."""

_ENVELOPE_KEYS = frozenset({"payload", "signature", "algorithm", "keyId", "publicKey"})
_ENVELOPE_REQUIRED = frozenset({"payload", "signature", "algorithm", "keyId"})
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
_KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_ISSUED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_EXACT_RE = re.compile(r"^-?\d+(/\d+)?$")


class CertificateError(PermanentError):
    """A certificate cannot be issued (a verdict is not PROVED, inputs disagree),
    or a key cannot be loaded."""


# -- keys --------------------------------------------------------------------


def key_fingerprint(raw_public_key: bytes) -> str:
    """``keyId``: first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """An Ed25519 private key. Build with :func:`load_signing_key` or
    :func:`generate_signing_key`."""

    __slots__ = ("_key", "_public_raw", "key_id")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public_raw = _raw_public(key.public_key())
        self.key_id: str = key_fingerprint(self._public_raw)

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data)

    def public_key_raw(self) -> bytes:
        """The 32-byte raw public key."""
        return self._public_raw

    def public_key_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo), for distributing to verifiers."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (what a Kubernetes Secret holds)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey(key_id={self.key_id!r})"


def generate_signing_key() -> SigningKey:
    """A fresh random Ed25519 key."""
    return SigningKey(Ed25519PrivateKey.generate())


def load_signing_key(data: bytes) -> SigningKey:
    """A signing key from unencrypted PEM (PKCS#8 ``PRIVATE KEY`` or ``OPENSSH
    PRIVATE KEY``) or from the raw 32-byte seed. Raises :class:`CertificateError`."""
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        try:
            if b"OPENSSH PRIVATE KEY" in stripped[:40]:
                key: object = serialization.load_ssh_private_key(stripped, password=None)
            else:
                key = serialization.load_pem_private_key(stripped, password=None)
        except TypeError:
            raise CertificateError("signing key is encrypted; give an unencrypted key") from None
        except (ValueError, UnsupportedAlgorithm) as err:
            raise CertificateError(f"signing key is not a readable private key: {err}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CertificateError(f"signing key must be Ed25519, not {type(key).__name__}")
        return SigningKey(key)
    if len(data) == 32:
        return SigningKey(Ed25519PrivateKey.from_private_bytes(data))
    raise CertificateError("signing key must be PEM or a raw 32-byte Ed25519 seed")


def load_public_key(data: bytes) -> bytes:
    """The raw 32-byte public key from PEM (``PUBLIC KEY``; a private key PEM also
    works and yields its public half), an OpenSSH ``ssh-ed25519`` line, or raw 32
    bytes (always read as a *public* key here). Raises :class:`CertificateError`."""
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN") and b"PRIVATE KEY" in stripped[:40]:
            return load_signing_key(stripped).public_key_raw()
        if stripped.startswith(b"-----BEGIN"):
            key: object = serialization.load_pem_public_key(stripped)
        elif stripped.startswith(b"ssh-ed25519 "):
            key = serialization.load_ssh_public_key(stripped)
        elif len(data) == 32:
            return bytes(data)
        else:
            raise CertificateError("public key must be PEM, an ssh-ed25519 line or raw 32 bytes")
    except (ValueError, UnsupportedAlgorithm) as err:
        raise CertificateError(f"not a readable public key: {err}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateError(f"public key must be Ed25519, not {type(key).__name__}")
    return _raw_public(key)


# -- the certificate ---------------------------------------------------------


class SupportsVerdict(Protocol):
    """A verdict object (e.g. the verifier's result): ``status`` is a string or a
    ``str`` enum; ``proof`` is JSON data saying how (inductive, bounded to N steps)."""

    @property
    def status(self) -> object: ...

    @property
    def proof(self) -> object: ...

    @property
    def property(self) -> str: ...


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
        if not isinstance(data["keyId"], str) or not _KEY_ID_RE.match(data["keyId"]):
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
            issued_at=_parse_time(data["issuedAt"]),
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


def _parse_time(raw: object) -> datetime:
    if not isinstance(raw, str) or not _ISSUED_AT_RE.match(raw):
        raise ValueError("issuedAt must be RFC 3339 UTC like 2026-01-02T03:04:05Z")
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"issuedAt is not a real time: {raw}") from None


# -- signed envelope ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    """The envelope. ``payload`` is the exact signed text."""

    payload: str
    signature: str
    key_id: str
    public_key: str
    """Base64 of the signer's raw 32-byte public key (integrity checks only)."""

    @property
    def certificate(self) -> Certificate:
        return Certificate.from_payload(json.loads(self.payload))

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the payload: names this certificate in short form."""
        return payload_digest(self.payload)

    def to_dict(self) -> dict[str, str]:
        return {
            "payload": self.payload,
            "signature": self.signature,
            "algorithm": ALGORITHM,
            "keyId": self.key_id,
            "publicKey": self.public_key,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())


def payload_digest(payload: str) -> str:
    """SHA-256 (hex) of a payload string's ASCII bytes."""
    return hashlib.sha256(payload.encode("ascii", errors="replace")).hexdigest()


def _verdict_record(verdict: Mapping[str, Any] | SupportsVerdict, index: int) -> VerdictRecord:
    if isinstance(verdict, Mapping):
        prop, status, proof = verdict.get("property"), verdict.get("status"), verdict.get("proof")
    else:
        # duck-typed: a result object without these fields is reported, not crashed on
        prop = getattr(verdict, "property", None)
        status = getattr(verdict, "status", None)
        proof = getattr(verdict, "proof", None)
    status = getattr(status, "value", status)  # a str enum gives its value
    if not isinstance(prop, str) or not prop:
        raise CertificateError(f"verdicts[{index}]: property name missing")
    if status != PROVED:
        raise CertificateError(
            f"refusing to certify: property {prop!r} is {status!r}; only PROVED verdicts are certified"
        )
    try:
        proof = json.loads(json.dumps(proof, allow_nan=False))
    except (TypeError, ValueError):
        raise CertificateError(f"verdicts[{index}]: proof of {prop!r} is not JSON data") from None
    return VerdictRecord(prop, PROVED, proof)


def issue_certificate(
    upir: UPIR,
    verdicts: Iterable[Mapping[str, Any] | SupportsVerdict],
    parameters: Mapping[str, Fraction | Number],
    key: SigningKey,
    *,
    solver_version: str,
    model_version: str,
    now: datetime,
) -> SignedCertificate:
    """Sign a certificate for ``upir`` with ``parameters`` (``<component>.<param>``
    -> value; typically ``upir.param_values()`` of the UPIR that was verified).

    Refuses (raises :class:`CertificateError`, a ``PermanentError``) unless every
    verdict is ``PROVED``, every property of the specification has a verdict, no
    property is listed twice, and every given parameter equals the UPIR's own
    value (the certificate's ``contentHash`` covers those values, so they must
    agree). ``now`` must be timezone-aware."""
    records = [_verdict_record(v, i) for i, v in enumerate(verdicts)]
    if not records:
        raise CertificateError("refusing to certify: no verdicts")
    names = [r.property for r in records]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CertificateError(f"refusing to certify: properties listed twice: {duplicates}")
    missing = [p.name for p in upir.specification.all_properties() if p.name not in set(names)]
    if missing:
        raise CertificateError(f"refusing to certify: no verdict for {missing}")
    current = upir.param_values()
    exact: dict[str, Fraction] = {}
    for name, value in parameters.items():
        if name not in current:
            raise CertificateError(f"parameter {name!r} does not exist in UPIR {upir.name!r}")
        frac = to_fraction(value)
        if frac != current[name]:
            raise CertificateError(
                f"parameter {name!r} is {frac} but the UPIR has {current[name]}; "
                "certify the UPIR that carries these values (upir.with_params)"
            )
        exact[name] = frac
    if not solver_version or not model_version:
        raise CertificateError("solver_version and model_version are required")
    cert = Certificate(
        subject_name=upir.name,
        subject_namespace=upir.namespace,
        spec_hash=upir.spec_hash(),
        content_hash=upir.content_hash(),
        parameters=MappingProxyType(exact),
        verdicts=tuple(sorted(records, key=lambda r: r.property)),
        solver_version=solver_version,
        model_version=model_version,
        issued_at=_parse_time(format_time(now)),
        key_id=key.key_id,
    )
    payload = canonical_json(cert.to_payload())
    signature = key.sign(payload.encode("ascii"))
    return SignedCertificate(
        payload=payload,
        signature=base64.b64encode(signature).decode("ascii"),
        key_id=key.key_id,
        public_key=base64.b64encode(key.public_key_raw()).decode("ascii"),
    )


# -- verification ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The outcome of :func:`verify_certificate`. ``valid`` means the signature,
    key id and structure all check out; ``trusted`` additionally means the
    signature was checked against a key the caller trusts (not the one the
    envelope carries)."""

    valid: bool
    trusted: bool
    reason: str
    key_id: str | None = None
    certificate: Certificate | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "trusted": self.trusted,
            "reason": self.reason,
            "keyId": self.key_id,
            "certificate": None if self.certificate is None else self.certificate.to_payload(),
        }


def _invalid(reason: str, key_id: str | None = None) -> CertificateCheck:
    return CertificateCheck(valid=False, trusted=False, reason=reason, key_id=key_id)


def _strict_b64(text: object, size: int, what: str) -> bytes:
    """Decode base64 that is in its one canonical form, so that no two envelope
    texts carry the same bytes (a changed padding bit must not go unnoticed)."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError(f"{what} must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
    if len(raw) != size or base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"{what} must be the canonical base64 of {size} bytes")
    return raw


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_envelope(envelope: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(envelope, str | bytes):
        if len(envelope) > MAX_ENVELOPE_BYTES:
            raise ValueError(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            parsed = json.loads(envelope, object_pairs_hook=_no_duplicate_keys)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            raise ValueError(f"envelope is not JSON: {err}") from None
        if not isinstance(parsed, dict):
            raise ValueError("envelope is not a JSON object")
        return parsed
    if not isinstance(envelope, Mapping):
        raise ValueError("envelope must be a JSON object")
    return envelope


def verify_certificate(
    envelope: Mapping[str, Any] | str | bytes, public_key: bytes | None
) -> CertificateCheck:
    """Check a signed certificate (the envelope as a mapping or JSON text).

    ``public_key``: the trusted key (any form :func:`load_public_key` reads). With
    it, the signature must verify under that key and the envelope's ``keyId`` (and
    any embedded ``publicKey``) must be that key's. Without it, only integrity
    against the embedded ``publicKey`` is checked and the result has
    ``trusted=False``. Never raises for bad input: the reason says what is wrong
    (a malformed trusted key raises :class:`CertificateError`, since that is the
    caller's configuration, not the certificate)."""
    trusted_raw = load_public_key(public_key) if public_key is not None else None
    try:
        env = _load_envelope(envelope)
    except ValueError as err:
        return _invalid(str(err))
    keys = set(env)
    if not _ENVELOPE_REQUIRED <= keys or not keys <= _ENVELOPE_KEYS:
        missing = sorted(_ENVELOPE_REQUIRED - keys)
        extra = sorted(keys - _ENVELOPE_KEYS)
        return _invalid(f"envelope fields wrong (missing {missing}, unexpected {extra})")
    if env["algorithm"] != ALGORITHM:
        return _invalid(f"algorithm must be {ALGORITHM}, got {env['algorithm']!r}")
    key_id = env["keyId"]
    if not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id):
        return _invalid("keyId must be 16 lowercase hex digits")
    payload = env["payload"]
    if not isinstance(payload, str) or not payload.isascii():
        return _invalid("payload must be ASCII text", key_id)
    try:
        signature = _strict_b64(env["signature"], 64, "signature")
        embedded = _strict_b64(env["publicKey"], 32, "publicKey") if "publicKey" in env else None
    except ValueError as err:
        return _invalid(str(err), key_id)
    if embedded is not None and key_fingerprint(embedded) != key_id:
        return _invalid("keyId does not match the embedded public key", key_id)
    if trusted_raw is not None:
        if key_fingerprint(trusted_raw) != key_id:
            return _invalid(
                f"signed by key {key_id}, not by the trusted key {key_fingerprint(trusted_raw)}",
                key_id,
            )
        if embedded is not None and embedded != trusted_raw:
            return _invalid("embedded public key differs from the trusted key", key_id)
        check_key, trusted = trusted_raw, True
    elif embedded is not None:
        check_key, trusted = embedded, False
    else:
        return _invalid("no trusted public key given and the envelope carries none", key_id)
    try:
        Ed25519PublicKey.from_public_bytes(check_key).verify(signature, payload.encode("ascii"))
    except InvalidSignature:
        return _invalid("signature does not verify", key_id)
    except ValueError as err:
        return _invalid(f"public key unusable: {err}", key_id)
    # The signature holds; the structure must too (a signer's bug must not pass).
    try:
        data = json.loads(
            payload, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
        if canonical_json(data) != payload:
            raise ValueError("payload is not in canonical JSON form")
        cert = Certificate.from_payload(data)
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        return _invalid(f"payload malformed: {err}", key_id)
    if cert.key_id != key_id:
        return _invalid("payload keyId differs from the envelope keyId", key_id)
    how = "trusted key" if trusted else "embedded public key only (signer not authenticated)"
    return CertificateCheck(
        valid=True,
        trusted=trusted,
        reason=f"signature valid ({how})",
        key_id=key_id,
        certificate=cert,
    )
