"""Prometheus behind TLS and authentication (issue 23): the real ``prometheus``
server started with ``--web.config.file`` (its own TLS and basic auth), queried
by the operator's client and by the real operator process; PromQL errors and
refused credentials are reported as such, not as "no sample".

The real server authenticates with basic auth only (its web config has no bearer
tokens): the bearer token path is covered against a local server in
tests/unit/operator/test_prometheus_client.py."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from upir_e2e.procutil import free_port
from upir_e2e.prometheus import ensure_prometheus_installed
from upir_operator.prometheus import (
    PrometheusClient,
    PrometheusUnauthorized,
    PrometheusUnavailable,
)
from upir_operator.settings import PrometheusAccess

pytestmark = pytest.mark.integration

USER, PASSWORD = "upir", "s3cret-pw"


@dataclass
class SecuredPrometheus:
    url: str
    ca: Path
    password_file: Path


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None, ca_key: Any
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, False)
    return builder.sign(ca_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredPrometheus]:
    work = Path(tempfile.mkdtemp(prefix="upir-prom-tls-"))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("upir test CA", ca_key, None, ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("127.0.0.1", key, ca, ca_key)
    (work / "ca.pem").write_bytes(_pem(ca))
    (work / "server.pem").write_bytes(_pem(cert))
    (work / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (work / "password").write_text(PASSWORD + "\n")
    with warnings.catch_warnings():
        # the stdlib's bcrypt (libxcrypt); Prometheus's basic_auth_users wants bcrypt
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))
    web = {
        "tls_server_config": {
            "cert_file": str(work / "server.pem"),
            "key_file": str(work / "server.key"),
        },
        "basic_auth_users": {USER: hashed},
    }
    (work / "web.yml").write_text(yaml.safe_dump(web))
    (work / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}}))
    port = free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(ensure_prometheus_installed()),
            f"--config.file={work / 'prometheus.yml'}",
            f"--web.config.file={work / 'web.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(work / "ca.pem"))
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(
                    url + "/-/ready", headers={"Authorization": f"Basic {auth}"}
                )
                with urllib.request.urlopen(req, context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, (
                work / "prometheus.log"
            ).read_text()[-2000:]
            time.sleep(0.3)
        yield SecuredPrometheus(url, work / "ca.pem", work / "password")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def query(access: PrometheusAccess, url: str, queries: dict[str, str]) -> Any:
    async def main() -> Any:
        client = PrometheusClient(access)
        try:
            return await client.query_all(url, queries, timeout_s=5)
        finally:
            await client.close()

    return asyncio.run(main())


def test_client_reads_prometheus_behind_tls_and_basic_auth(
    secured: SecuredPrometheus, tmp_path: Path
) -> None:
    access = PrometheusAccess(
        username=USER, password_file=secured.password_file, ca_file=secured.ca
    )
    got = query(access, secured.url, {"latency_ms": "vector(42)", "bad": "sum("})
    assert got["latency_ms"].value == 42.0
    assert got["bad"].value is None and got["bad"].error.startswith("bad_data:")
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    with pytest.raises(PrometheusUnauthorized, match="401"):
        query(
            PrometheusAccess(username=USER, password_file=wrong, ca_file=secured.ca),
            secured.url,
            {"a": "vector(1)"},
        )
    with pytest.raises(PrometheusUnavailable, match="(?i)certificate"):
        query(
            PrometheusAccess(username=USER, password_file=secured.password_file),
            secured.url,
            {"a": "vector(1)"},
        )


def tuning(obj: dict[str, Any] | None) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == "Tuning":
            return dict(c)
    return {}


def test_operator_tunes_against_prometheus_behind_tls_and_basic_auth(
    cluster: Any,
    namespace: str,
    operator_factory: Any,
    secured: SecuredPrometheus,
    gateway_doc: Any,
) -> None:
    ns = namespace
    operator_factory(
        UPIR_PROMETHEUS_CA_FILE=str(secured.ca),
        UPIR_PROMETHEUS_USERNAME=USER,
        UPIR_PROMETHEUS_PASSWORD_FILE=str(secured.password_file),
    )

    def tuned(name: str, latency_query: str) -> dict[str, Any]:
        doc = gateway_doc(name)
        doc["spec"]["tuning"] = {
            "mode": "Recommend",
            "intervalSeconds": 5,
            "prometheus": {
                "url": secured.url,
                "queries": {
                    "latency_ms": latency_query,
                    "throughput_rps": "vector(50)",
                    "error_rate": "vector(0)",
                },
            },
        }
        return doc

    for doc in (tuned("good", "vector(120)"), tuned("badq", "sum(")):
        cluster.kubectl("apply", "--validate=false", "-n", ns, "-f", "-", input=yaml.safe_dump(doc))
    good = cluster.wait_for(
        "a measured latency",
        lambda: (
            (o := cluster.get("upir", "good", ns))
            and (o.get("status") or {}).get("measuredLatencyMs") == 120
            and o
        ),
        timeout=120,
    )
    assert "Prometheus" not in tuning(good).get("message", "")
    # kubectl get up: the LATENCY column reads what the loop measured
    header, row = cluster.kubectl("get", "up", "good", "-n", ns).strip().splitlines()[:2]
    assert dict(zip(header.split(), row.split(), strict=True))["LATENCY"] == "120", row
    bad = cluster.wait_for(
        "a query error reported as such",
        lambda: (
            (o := cluster.get("upir", "badq", ns))
            and "QueryFailed" in tuning(o).get("message", "")
            and o
        ),
        timeout=120,
    )
    message = tuning(bad)["message"]
    assert "latency_ms: bad_data" in message and "no sample" not in message
    # the hold is a Normal event, visible with kubectl get events (posted from the
    # tuning daemon through kopf.event, which kopf's WARNING posting level does not filter)
    listed = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json"))["items"]
    held = [
        e for e in listed if e["involvedObject"]["name"] == "badq" and e["reason"] == "TuningHeld"
    ]
    assert held and held[0]["type"] == "Normal" and "QueryFailed" in held[0]["message"]
