"""``upir synthesize FILE [--json] [-o DIR]``: CEGIS parameters and rendered
manifests (DESIGN.md section 5).

Exit codes: 0 SUCCESS, 1 UNSAT or PARTIAL, 2 invalid input (INVALID_SPEC, an
unreadable signing key, an output directory that cannot be written), 3 TIMEOUT.

``--json`` prints one object: ``{"status", "parameters", "iterations", "timeMs",
"explanation"}`` plus ``bestCandidate``, ``violated``, ``optimal``, ``objective``,
``certificate`` (the signed envelope or null) and ``files`` (what ``-o`` wrote).

``-o DIR`` (SUCCESS only) writes every rendered manifest as its own YAML file
(``NN-<kind>-<name>.yaml``), the resource with the synthesized values
(``upir.yaml``) and, when a signing key is given (``--signing-key FILE``, else
the file named by ``UPIR_SIGNING_KEY``), the signed certificate
(``certificate.json``), whose digest the ConfigMap carries. Nothing is written
for any other status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from upir.certificates import CertificateError, SignedCertificate, SigningKey, load_signing_key
from upir.cli.common import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INVALID,
    EXIT_OK,
    Context,
    print_json,
    read_one_upir,
    report_invalid,
)
from upir.core import UPIR
from upir.errors import InvalidSpecError, PermanentError
from upir.synthesis import SynthesisResult, SynthesisStatus, Synthesizer, certify
from upir.synthesis.results import json_values
from upir.templates import render_manifests
from upir.verification import ProofCache, Verifier

ENV_SIGNING_KEY = "UPIR_SIGNING_KEY"
MAX_KEY_BYTES = 64 * 1024
"""Largest signing-key file read, bytes."""

EXIT_CODES: Mapping[SynthesisStatus, int] = {
    SynthesisStatus.SUCCESS: EXIT_OK,
    SynthesisStatus.UNSAT: EXIT_FAILED,
    SynthesisStatus.PARTIAL: EXIT_FAILED,
    SynthesisStatus.INVALID_SPEC: EXIT_INVALID,
    SynthesisStatus.TIMEOUT: EXIT_INCONCLUSIVE,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "synthesize", help="find parameters the verifier proves (CEGIS) and render manifests"
    )
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-o", "--output", metavar="DIR", help="write manifests (and certificate) here")
    p.add_argument(
        "--signing-key",
        metavar="FILE",
        help=f"Ed25519 private key that signs the certificate (default: ${ENV_SIGNING_KEY})",
    )
    p.add_argument(
        "--max-iterations", type=_positive, default=100, metavar="N", help="CEGIS rounds (100)"
    )
    p.add_argument(
        "--timeout-ms", type=_positive, metavar="MS", help="wall-clock budget (default: none)"
    )
    p.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _signing_key(option: str | None, environ: Mapping[str, str]) -> SigningKey | None:
    """The key from ``--signing-key`` or ``$UPIR_SIGNING_KEY``; InvalidSpecError
    when it cannot be read."""
    path = option or environ.get(ENV_SIGNING_KEY) or None
    if path is None:
        return None
    try:
        p = Path(path)
        size = p.stat().st_size
        if size > MAX_KEY_BYTES:
            raise InvalidSpecError.single(
                path, f"signing key is {size} bytes; the limit is {MAX_KEY_BYTES}"
            )
        data = p.read_bytes()
    except OSError as err:
        raise InvalidSpecError.single(
            path, f"cannot read signing key: {err.strerror or err}"
        ) from None
    try:
        return load_signing_key(data)
    except CertificateError as err:
        raise InvalidSpecError.single(path, str(err)) from None


def run(args: argparse.Namespace, ctx: Context) -> int:
    try:
        key = _signing_key(args.signing_key, os.environ)
        upir = read_one_upir(args.file)
    except InvalidSpecError as err:
        report_invalid(args.file, err)
        if args.json:
            print_json(_invalid_json(str(err)))
        return EXIT_INVALID
    cache = ProofCache(ctx.settings.cache.size) if ctx.settings.cache.size > 0 else None
    verifier = Verifier(ctx.settings.solver, cache)
    synthesizer = Synthesizer(
        ctx.settings.solver,
        verifier=verifier,
        max_iterations=args.max_iterations,
        timeout_ms=args.timeout_ms,
    )
    result = synthesizer.synthesize(upir)
    code = EXIT_CODES[result.status]
    cert: SignedCertificate | None = None
    files: list[str] = []
    if result.status is SynthesisStatus.SUCCESS:
        try:
            if key is not None:
                cert = certify(upir, result, key, now=datetime.now(UTC))
            if args.output:
                files = write_output(Path(args.output), upir, result, cert)
        except (PermanentError, OSError) as err:
            sys.stderr.write(f"upir: {args.file}: {err}\n")
            code = EXIT_INVALID
    elif args.output:
        sys.stderr.write(
            f"upir: {args.file}: {result.status.value}; nothing written to {args.output}\n"
        )
    if args.json:
        out = result.to_json(details=False)
        out.update(
            {
                "bestCandidate": json_values(result.best_candidate),
                "violated": list(result.violated),
                "optimal": result.optimal,
                "objective": {k: float(v) for k, v in result.objective.items()},
                "certificate": cert.to_dict() if cert is not None else None,
                "files": files,
            }
        )
        print_json(out)
    else:
        _print_human(args.file, result, cert, files)
    if result.status is SynthesisStatus.INVALID_SPEC:
        sys.stderr.write(f"upir: {args.file}: {result.explanation}\n")
    return code


def write_output(
    directory: Path, upir: UPIR, result: SynthesisResult, cert: SignedCertificate | None
) -> list[str]:
    """Write the manifests, the synthesized resource and the certificate; the
    paths written."""
    manifests = render_manifests(
        upir, result.parameters, certificate=cert.to_dict() if cert is not None else None
    )
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for i, manifest in enumerate(manifests):
        kind = str(manifest.get("kind", "object")).lower()
        name = str((manifest.get("metadata") or {}).get("name", "unnamed"))
        path = directory / f"{i:02d}-{kind}-{name}.yaml"
        path.write_text(yaml.safe_dump(_plain(manifest), sort_keys=False), encoding="utf-8")
        written.append(str(path))
    resource = directory / "upir.yaml"
    resource.write_text(
        yaml.safe_dump(upir.with_params(result.parameters).to_resource(), sort_keys=False),
        encoding="utf-8",
    )
    written.append(str(resource))
    if cert is not None:
        cpath = directory / "certificate.json"
        cpath.write_text(cert.to_json() + "\n", encoding="utf-8")
        written.append(str(cpath))
    return written


def _plain(value: Any) -> Any:
    """Mappings and sequences as plain dicts and lists (what ``safe_dump`` writes)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _invalid_json(message: str) -> dict[str, Any]:
    return {
        "status": SynthesisStatus.INVALID_SPEC.value,
        "parameters": {},
        "iterations": 0,
        "timeMs": 0.0,
        "explanation": message,
    }


def _print_human(
    path: str, result: SynthesisResult, cert: SignedCertificate | None, files: list[str]
) -> None:
    print(
        f"{path}: {result.status.value} after {result.iterations} iteration(s) "
        f"in {result.time_ms:.0f}ms"
    )
    for name, value in json_values(result.parameters).items():
        print(f"  {name} = {value}")
    print(f"  {result.explanation}")
    if result.report is not None:
        for r in result.report.results:
            print(f"  {r.status.value:<9} {r.property.name} ({r.proof}, {r.method})")
    if cert is not None:
        print(f"  certificate signed by key {cert.key_id} (digest {cert.digest[:16]})")
    for f in files:
        print(f"  wrote {f}")
