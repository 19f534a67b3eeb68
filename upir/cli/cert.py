"""``upir cert verify FILE [--public-key PEM] [--json]``: check a signed proof
certificate (exit 0 valid, 1 invalid, 2 unreadable input or key).

The trusted key comes from ``--public-key FILE``, else from the file named by
``UPIR_SIGNING_PUBLIC_KEY``, else from ``UPIR_SIGNING_KEY`` (a private key file
also yields its public half). Without any, only the certificate's integrity
against the public key it carries can be checked: the result then says
``trusted: false`` (exit 0 still means "intact", not "signed by us"; use
``--require-trusted`` to make that an error).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from upir.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    STDIN,
    Context,
    add_format_options,
    display_name,
    print_output,
)

ENV_PUBLIC_KEY = "UPIR_SIGNING_PUBLIC_KEY"
ENV_SIGNING_KEY = "UPIR_SIGNING_KEY"
MAX_KEY_BYTES = 64 * 1024
"""Largest key file read, bytes."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cert", help="proof certificates")
    cert_sub = p.add_subparsers(dest="cert_command", required=True, metavar="COMMAND")
    v = cert_sub.add_parser("verify", help="check a signed proof certificate")
    v.add_argument("file", metavar="FILE", help="the certificate envelope (JSON; - for stdin)")
    v.add_argument(
        "--public-key",
        metavar="PEM",
        help=f"trusted public key file (default: ${ENV_PUBLIC_KEY}, else ${ENV_SIGNING_KEY})",
    )
    add_format_options(v)
    v.add_argument(
        "--require-trusted",
        action="store_true",
        help="exit 1 unless the signature was checked against a trusted key",
    )
    v.set_defaults(run=run_verify)


def key_path(option: str | None, environ: Mapping[str, str]) -> str | None:
    """Where the trusted key comes from: the option, then the environment."""
    if option:
        return option
    return environ.get(ENV_PUBLIC_KEY) or environ.get(ENV_SIGNING_KEY) or None


def _read(path: str, limit: int, what: str) -> bytes | None:
    if path == STDIN:
        data = sys.stdin.buffer.read(limit + 1)
        if len(data) > limit:
            sys.stderr.write(
                f"upir: {display_name(path)}: {what} is over the limit of {limit} bytes\n"
            )
            return None
        return data
    try:
        p = Path(path)
        size = p.stat().st_size
        if size > limit:
            sys.stderr.write(f"upir: {path}: {what} is {size} bytes; the limit is {limit}\n")
            return None
        return p.read_bytes()
    except OSError as err:
        sys.stderr.write(f"upir: {path}: cannot read {what}: {err.strerror or err}\n")
        return None


def run_verify(args: argparse.Namespace, ctx: Context) -> int:
    from upir.certificates import (
        MAX_ENVELOPE_BYTES,
        CertificateError,
        format_time,
        verify_certificate,
    )

    del ctx  # no solver or cache settings are involved
    raw = _read(args.file, MAX_ENVELOPE_BYTES, "certificate")
    if raw is None:
        return EXIT_INVALID
    kpath = key_path(args.public_key, os.environ)
    key: bytes | None = None
    if kpath is not None:
        key = _read(kpath, MAX_KEY_BYTES, "public key")
        if key is None:
            return EXIT_INVALID
    try:
        check = verify_certificate(raw, key)
    except CertificateError as err:
        sys.stderr.write(f"upir: {kpath}: {err}\n")
        return EXIT_INVALID
    ok = check.valid and (check.trusted or not args.require_trusted)
    name = display_name(args.file)
    if args.format is not None:
        print_output(check.to_dict(), args.format)
    elif check.valid:
        cert = check.certificate
        assert cert is not None
        where = (
            f"{cert.subject_namespace}/{cert.subject_name}"
            if cert.subject_namespace
            else cert.subject_name
        )
        print(
            f"{name}: valid: UPIR {where}, {len(cert.verdicts)} properties PROVED, "
            f"{len(cert.parameters)} parameters, key {check.key_id}, issued {format_time(cert.issued_at)}"
        )
    else:
        print(f"{name}: INVALID: {check.reason}")
    if check.valid and not check.trusted:
        sys.stderr.write(
            f"upir: {name}: checked against the key inside the certificate only; "
            f"give --public-key (or ${ENV_PUBLIC_KEY}) to know who signed it\n"
        )
    return EXIT_OK if ok else EXIT_FAILED
