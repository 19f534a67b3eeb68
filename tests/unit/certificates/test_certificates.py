"""Signed proof certificates: issue, verify, tamper detection, refusals (issue 3)."""

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from fractions import Fraction
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from upir.certificates import (
    CertificateError,
    SignedCertificate,
    SigningKey,
    generate_signing_key,
    issue_certificate,
    key_fingerprint,
    load_public_key,
    load_signing_key,
    verify_certificate,
)
from upir.core import UPIR, canonical_json
from upir.errors import PermanentError

NOW = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def _doc(**spec_extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "systemType": "api",
        "architecture": {
            "components": [
                {
                    "name": "gw",
                    "type": "service",
                    "params": {"replicas": 2, "cost_per_replica": 0.1, "retries": 1},
                },
                {"name": "q", "type": "queue", "params": {"capacity": 100}},
            ],
            "connections": [{"from": "gw", "to": "q"}],
        },
        "specification": {
            "assumptions": ["env.arrival_rps <= 10"],
            "invariants": [
                {"name": "no_loss", "operator": "ALWAYS", "predicate": "q.dropped == 0"}
            ],
            "properties": [
                {"name": "budget", "operator": "ALWAYS", "predicate": "gw.retries <= 3"},
            ],
        },
        "parameters": [{"name": "gw.retries", "min": 0, "max": 3}],
    }
    spec.update(spec_extra)
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "shop", "namespace": "prod"},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def upir() -> UPIR:
    return UPIR.from_resource(_doc())


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return load_signing_key(bytes(range(32)))


def _verdicts(u: UPIR, status: str = "PROVED") -> list[dict[str, Any]]:
    return [
        {"property": p.name, "status": status, "proof": {"method": "k-induction", "k": 1}}
        for p in u.specification.all_properties()
    ]


def _issue(u: UPIR, key: SigningKey, **kw: Any) -> SignedCertificate:
    args: dict[str, Any] = {"solver_version": "4.15.4", "model_version": "1", "now": NOW}
    args.update(kw)
    return issue_certificate(u, _verdicts(u), u.param_values(), key, **args)


def test_round_trip_trusted(upir: UPIR, key: SigningKey) -> None:
    signed = _issue(upir, key)
    check = verify_certificate(signed.to_dict(), key.public_key_pem())
    assert check.valid and check.trusted, check.reason
    cert = check.certificate
    assert cert is not None
    assert (cert.subject_name, cert.subject_namespace) == ("shop", "prod")
    assert cert.spec_hash == upir.spec_hash() and cert.content_hash == upir.content_hash()
    assert dict(cert.parameters) == upir.param_values()
    assert cert.parameters["gw.cost_per_replica"] == Fraction(1, 10)
    assert [v.property for v in cert.verdicts] == sorted(
        p.name for p in upir.specification.all_properties()
    )
    assert {v.status for v in cert.verdicts} == {"PROVED"}
    assert cert.verdicts[0].proof == {"method": "k-induction", "k": 1}
    assert cert.issued_at == NOW.replace(microsecond=0)
    assert cert.solver_version == "4.15.4" and cert.model_version == "1"
    # the text form and the mapping form verify alike
    assert verify_certificate(signed.to_json(), key.public_key_pem()).valid


def test_a_model_1_certificate_still_verifies_and_names_its_model(
    upir: UPIR, key: SigningKey
) -> None:
    """Model 2 (docs/model.md) changes verdicts, not certificates: one issued
    under ``upir-model-1`` checks valid and says which model its proofs used."""
    from upir.verification import MODEL_VERSION

    assert MODEL_VERSION == "upir-model-2"
    signed = _issue(upir, key, model_version="upir-model-1")
    check = verify_certificate(signed.to_json(), key.public_key_pem())
    assert check.valid and check.trusted, check.reason
    assert check.certificate is not None
    assert check.certificate.model_version == "upir-model-1"


def test_payload_is_the_documented_canonical_json(upir: UPIR, key: SigningKey) -> None:
    signed = _issue(upir, key)
    data = json.loads(signed.payload)
    assert canonical_json(data) == signed.payload
    assert sorted(data) == sorted(
        [
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
        ]
    )
    assert data["apiVersion"] == "upir.dev/v1alpha1" and data["kind"] == "ProofCertificate"
    assert data["subject"] == {"name": "shop", "namespace": "prod"}
    assert data["parameters"]["gw.cost_per_replica"] == {"exact": "1/10", "value": 0.1}
    assert data["parameters"]["gw.replicas"] == {"exact": "2", "value": 2}
    assert data["solver"] == {"name": "z3", "version": "4.15.4"}
    assert data["model"] == {"version": "1"}
    assert data["issuedAt"] == "2026-03-04T05:06:07Z"
    raw = key.public_key_raw()
    assert data["keyId"] == hashlib.sha256(raw).hexdigest()[:16] == key.key_id == signed.key_id
    env = signed.to_dict()
    assert env["algorithm"] == "Ed25519"
    assert base64.b64decode(env["publicKey"]) == raw
    assert len(base64.b64decode(env["signature"])) == 64


def test_issuing_is_deterministic_and_time_zone_independent(upir: UPIR, key: SigningKey) -> None:
    a = _issue(upir, key)
    b = _issue(upir, key, now=NOW.astimezone(timezone(timedelta(hours=-5))))
    assert a == b


def test_untrusted_check_uses_embedded_key(upir: UPIR, key: SigningKey) -> None:
    check = verify_certificate(_issue(upir, key).to_json(), None)
    assert check.valid and not check.trusted
    assert "not authenticated" in check.reason


def _mutants(text: str) -> list[tuple[int, str]]:
    """Every position of ``text`` with two different replacement characters."""
    out = []
    for i, ch in enumerate(text):
        for repl in {chr(ord(ch) ^ 1), "A" if ch != "A" else "B"}:
            out.append((i, text[:i] + repl + text[i + 1 :]))
    return out


@pytest.mark.parametrize("trusted", [True, False])
def test_any_changed_byte_of_payload_or_signature_is_invalid(
    upir: UPIR, key: SigningKey, trusted: bool
) -> None:
    signed = _issue(upir, key)
    pub = key.public_key_pem() if trusted else None
    env = signed.to_dict()
    for field in ("payload", "signature"):
        for i, changed in _mutants(env[field]):
            check = verify_certificate({**env, field: changed}, pub)
            assert not check.valid, (field, i, changed[max(0, i - 10) : i + 10])


def test_any_changed_byte_of_the_envelope_file_is_invalid(upir: UPIR, key: SigningKey) -> None:
    text = _issue(upir, key).to_json().encode("ascii")
    pub = key.public_key_pem()
    for i in range(len(text)):
        for repl in (text[i] ^ 0x01, text[i] ^ 0x80):
            changed = text[:i] + bytes([repl]) + text[i + 1 :]
            assert not verify_certificate(changed, pub).valid, i
            assert not verify_certificate(changed, None).valid, i


def test_signature_base64_must_be_canonical(upir: UPIR, key: SigningKey) -> None:
    env = _issue(upir, key).to_dict()
    sig = env["signature"]
    assert sig.endswith("==")
    # the last data character carries 4 unused bits; flipping one of them decodes
    # to the same bytes under a lax decoder
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(sig[-3])
    twin = sig[:-3] + alphabet[last ^ 1] + "=="
    assert base64.b64decode(twin) == base64.b64decode(sig)
    check = verify_certificate({**env, "signature": twin}, key.public_key_pem())
    assert not check.valid and "canonical" in check.reason


def test_wrong_key_is_invalid(upir: UPIR, key: SigningKey) -> None:
    signed = _issue(upir, key)
    other = generate_signing_key()
    check = verify_certificate(signed.to_dict(), other.public_key_pem())
    assert not check.valid and not check.trusted
    assert other.key_id in check.reason
    # re-labelled as the other key (keyId and embedded key swapped): still invalid
    forged = {
        **signed.to_dict(),
        "keyId": other.key_id,
        "publicKey": base64.b64encode(other.public_key_raw()).decode(),
    }
    assert not verify_certificate(forged, other.public_key_pem()).valid
    assert not verify_certificate(forged, None).valid
    # an envelope without its embedded key needs a trusted one
    bare = {k: v for k, v in signed.to_dict().items() if k != "publicKey"}
    assert verify_certificate(bare, key.public_key_pem()).valid
    assert not verify_certificate(bare, None).valid


def _sign_raw(key: SigningKey, payload: str) -> dict[str, str]:
    return {
        "payload": payload,
        "signature": base64.b64encode(key.sign(payload.encode())).decode(),
        "algorithm": "Ed25519",
        "keyId": key.key_id,
        "publicKey": base64.b64encode(key.public_key_raw()).decode(),
    }


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["verdicts"][0].__setitem__("status", "VIOLATED"),
        lambda d: d.__setitem__("verdicts", []),
        lambda d: d.__setitem__("extra", 1),
        lambda d: d.pop("contentHash"),
        lambda d: d.__setitem__("specHash", "x" * 64),
        lambda d: d.__setitem__("issuedAt", "2026-13-40T00:00:00Z"),
        lambda d: d["parameters"]["gw.cost_per_replica"].__setitem__("value", 0.2),
        lambda d: d["parameters"]["gw.cost_per_replica"].__setitem__("exact", "2/20"),
        lambda d: d["solver"].__setitem__("name", "cvc5"),
        lambda d: d.__setitem__("keyId", "0" * 16),
        lambda d: d.__setitem__("kind", "Certificate"),
        lambda d: d["verdicts"][0].__setitem__("proof", float("inf")),
    ],
)
def test_well_signed_but_malformed_payload_is_invalid(
    upir: UPIR, key: SigningKey, mutate: Callable[[dict[str, Any]], Any]
) -> None:
    data = json.loads(_issue(upir, key).payload)
    mutate(data)
    check = verify_certificate(_sign_raw(key, canonical_json(data)), key.public_key_pem())
    assert not check.valid
    assert "malformed" in check.reason or "keyId" in check.reason


def test_non_canonical_payload_is_invalid(upir: UPIR, key: SigningKey) -> None:
    data = json.loads(_issue(upir, key).payload)
    check = verify_certificate(_sign_raw(key, json.dumps(data, indent=1)), key.public_key_pem())
    assert not check.valid and "canonical" in check.reason


@pytest.mark.parametrize(
    "envelope",
    ["", "not json", "[]", "{}", '{"payload": 1}', "{" * 100_000, b"\xff\xfe"],
)
def test_malformed_envelopes_are_invalid_not_errors(envelope: str | bytes, key: SigningKey) -> None:
    check = verify_certificate(envelope, key.public_key_pem())
    assert not check.valid and check.reason


def test_duplicate_keys_are_rejected(upir: UPIR, key: SigningKey) -> None:
    text = _issue(upir, key).to_json()
    doubled = text[:-1] + ',"algorithm":"Ed25519"}'
    assert not verify_certificate(doubled, key.public_key_pem()).valid


@pytest.mark.parametrize("status", ["VIOLATED", "UNKNOWN", "TIMEOUT", "ERROR", "proved", None])
def test_refuses_to_issue_unless_every_verdict_is_proved(
    upir: UPIR, key: SigningKey, status: str | None
) -> None:
    verdicts: list[dict[str, Any]] = _verdicts(upir)
    verdicts[-1]["status"] = status
    with pytest.raises(PermanentError, match="refusing to certify"):
        issue_certificate(
            upir, verdicts, upir.param_values(), key, solver_version="4", model_version="1", now=NOW
        )


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda v: v[:-1], "no verdict for"),
        (lambda v: [], "no verdicts"),
        (lambda v: [*v, v[0]], "listed twice"),
        (lambda v: [{**v[0], "proof": Fraction(1, 3)}, *v[1:]], "not JSON"),
        (lambda v: [{**v[0], "property": ""}, *v[1:]], "property name"),
        (lambda v: [{**v[0], "proof": {"k": float("nan")}}, *v[1:]], "not JSON"),
        (lambda v: [object(), *v[1:]], "property name"),
    ],
)
def test_refuses_incomplete_or_odd_verdict_lists(
    upir: UPIR, key: SigningKey, change: Callable[[list[dict[str, Any]]], Any], needle: str
) -> None:
    with pytest.raises(CertificateError, match=needle):
        issue_certificate(
            upir, change(_verdicts(upir)), {}, key, solver_version="4", model_version="1", now=NOW
        )


def test_refuses_parameters_the_upir_does_not_carry(upir: UPIR, key: SigningKey) -> None:
    args: dict[str, Any] = {"solver_version": "4", "model_version": "1", "now": NOW}
    with pytest.raises(CertificateError, match="with_params"):
        issue_certificate(upir, _verdicts(upir), {"gw.retries": 3}, key, **args)
    with pytest.raises(CertificateError, match="does not exist"):
        issue_certificate(upir, _verdicts(upir), {"gw.nope": 3}, key, **args)
    moved = upir.with_params({"gw.retries": 3})
    signed = issue_certificate(moved, _verdicts(moved), {"gw.retries": 3}, key, **args)
    cert = verify_certificate(signed.to_dict(), key.public_key_pem()).certificate
    assert cert is not None and dict(cert.parameters) == {"gw.retries": Fraction(3)}
    assert cert.content_hash == moved.content_hash() != upir.content_hash()
    with pytest.raises(CertificateError, match="timezone"):
        issue_certificate(upir, _verdicts(upir), {}, key, **{**args, "now": datetime(2026, 1, 1)})


class _Status(StrEnum):
    PROVED = "PROVED"
    VIOLATED = "VIOLATED"


@dataclass(frozen=True)
class _Result:
    property: str
    status: _Status
    proof: object = None


def test_accepts_verdict_objects_with_enum_status(upir: UPIR, key: SigningKey) -> None:
    names = [p.name for p in upir.specification.all_properties()]
    results = [_Result(n, _Status.PROVED, "bounded(8)") for n in names]
    signed = issue_certificate(
        upir, results, upir.param_values(), key, solver_version="4", model_version="1", now=NOW
    )
    assert verify_certificate(signed.to_json(), key.public_key_pem()).valid
    # the verifier's results carry the property object itself
    props = upir.specification.all_properties()
    signed = issue_certificate(
        upir,
        [_Result(p, _Status.PROVED, "inductive") for p in props],  # type: ignore[arg-type]
        {},
        key,
        solver_version="4",
        model_version="1",
        now=NOW,
    )
    cert = verify_certificate(signed.to_json(), key.public_key_pem()).certificate
    assert cert is not None and {v.property for v in cert.verdicts} == set(names)
    results[0] = _Result(names[0], _Status.VIOLATED)
    with pytest.raises(CertificateError):
        issue_certificate(upir, results, {}, key, solver_version="4", model_version="1", now=NOW)


def test_key_loading_forms() -> None:
    key = generate_signing_key()
    assert load_signing_key(key.private_key_pem()).key_id == key.key_id
    ssh_pem = key._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    assert load_signing_key(ssh_pem).key_id == key.key_id
    raw = key.public_key_raw()
    assert key_fingerprint(raw) == key.key_id
    assert load_public_key(key.public_key_pem()) == raw
    assert load_public_key(key.private_key_pem()) == raw
    assert load_public_key(raw) == raw
    ssh_pub = key._key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert load_public_key(ssh_pub) == raw
    assert "key_id" in repr(key) and "PRIVATE" not in repr(key)


def test_bad_keys_raise_the_projects_error() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = generate_signing_key()._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    for data, needle in [
        (b"junk", "PEM or a raw"),
        (ec_pem, "Ed25519"),
        (encrypted, "encrypted"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "readable"),
    ]:
        with pytest.raises(CertificateError, match=needle):
            load_signing_key(data)
    with pytest.raises(CertificateError):
        load_public_key(b"short")
    with pytest.raises(CertificateError, match="Ed25519"):
        load_public_key(ec_pem)
    with pytest.raises(CertificateError):
        verify_certificate("{}", b"junk")
