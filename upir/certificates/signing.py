"""Issuing and verifying signed certificates (the envelope)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from upir.certificates.keys import SigningKey, load_public_key
from upir.certificates.model import (
    ALGORITHM,
    ENVELOPE_KEYS,
    ENVELOPE_REQUIRED,
    KEY_ID_RE,
    MAX_ENVELOPE_BYTES,
    PROVED,
    Certificate,
    CertificateError,
    SupportsVerdict,
    VerdictRecord,
    format_time,
    key_fingerprint,
    parse_time,
)
from upir.core.numbers import Number, to_fraction
from upir.core.specification import canonical_json

if TYPE_CHECKING:
    from upir.core.upir import UPIR

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
    if not isinstance(prop, str):
        prop = getattr(prop, "name", None)  # the property object itself (the verifier's results)
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
        issued_at=parse_time(format_time(now)),
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
    if not ENVELOPE_REQUIRED <= keys or not keys <= ENVELOPE_KEYS:
        missing = sorted(ENVELOPE_REQUIRED - keys)
        extra = sorted(keys - ENVELOPE_KEYS)
        return _invalid(f"envelope fields wrong (missing {missing}, unexpected {extra})")
    if env["algorithm"] != ALGORITHM:
        return _invalid(f"algorithm must be {ALGORITHM}, got {env['algorithm']!r}")
    key_id = env["keyId"]
    if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
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
