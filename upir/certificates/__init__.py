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

from upir.certificates.keys import (
    SigningKey,
    generate_signing_key,
    load_public_key,
    load_signing_key,
)
from upir.certificates.model import (
    ALGORITHM,
    API_VERSION,
    KIND,
    MAX_ENVELOPE_BYTES,
    PROVED,
    Certificate,
    CertificateError,
    SupportsVerdict,
    VerdictRecord,
    format_time,
    key_fingerprint,
)
from upir.certificates.signing import (
    CertificateCheck,
    SignedCertificate,
    issue_certificate,
    payload_digest,
    verify_certificate,
)

__all__ = [
    "ALGORITHM",
    "API_VERSION",
    "KIND",
    "MAX_ENVELOPE_BYTES",
    "PROVED",
    "Certificate",
    "CertificateCheck",
    "CertificateError",
    "SignedCertificate",
    "SigningKey",
    "SupportsVerdict",
    "VerdictRecord",
    "format_time",
    "generate_signing_key",
    "issue_certificate",
    "key_fingerprint",
    "load_public_key",
    "load_signing_key",
    "payload_digest",
    "verify_certificate",
]
