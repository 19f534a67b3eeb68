"""Ed25519 keys: loading, generating, fingerprints. Keys come in as bytes; the
library never reads files or the environment."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from upir.certificates.model import CertificateError, key_fingerprint

# -- keys --------------------------------------------------------------------


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
