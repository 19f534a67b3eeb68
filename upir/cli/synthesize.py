"""``upir synthesize FILE [-o json|yaml|-] [--out-dir DIR] [--objective change|cost]``:
CEGIS parameters and rendered manifests (DESIGN.md section 5).

Exit codes: 0 SUCCESS, 1 UNSAT or PARTIAL, 2 invalid input (INVALID_SPEC, an
unreadable signing key, an output directory that cannot be written), 3 TIMEOUT.
``FILE`` may be ``-`` (standard input).

``--objective`` orders what the synthesized values minimize: ``change``
(default) the distance from the current values first, then cost; ``cost`` the
cost first (:data:`upir.synthesis.OBJECTIVE_ORDERS`).

``-o json`` (``--json``) prints one object: ``{"status", "parameters",
"iterations", "timeMs", "explanation"}`` plus ``bestCandidate``, ``violated``,
``optimal``, ``objective``, ``objectiveOrder``, ``certificate`` (the signed
envelope or null) and ``files`` (what ``--out-dir`` wrote); invalid input adds
``errors``. ``-o yaml`` prints the same object as YAML.

``-o -`` (SUCCESS only) prints the rendered manifests on stdout as one YAML
stream, for ``kubectl apply -f -``; the summary goes to stderr.

``--out-dir DIR`` (SUCCESS only) writes every rendered manifest as its own YAML
file (``NN-<kind>-<name>.yaml``), the resource with the synthesized values
(``upir.yaml``) and, when a signing key is given (``--signing-key FILE``, else
the file named by ``UPIR_SIGNING_KEY``), the signed certificate
(``certificate.json``), whose digest the ConfigMap carries. Nothing is written
for any other status. ``-o DIR`` (any value other than ``json``, ``yaml`` and
``-``) still means ``--out-dir DIR``, as before 0.2, with a deprecation notice.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from upir.cli.common import (
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_INVALID,
    EXIT_OK,
    FORMATS,
    Context,
    display_name,
    issues_json,
    print_output,
    read_one_upir,
    report_invalid,
)
from upir.errors import InvalidSpecError, PermanentError

if TYPE_CHECKING:
    from upir.certificates import SignedCertificate, SigningKey
    from upir.core import UPIR
    from upir.synthesis import SynthesisResult

ENV_SIGNING_KEY = "UPIR_SIGNING_KEY"
MAX_KEY_BYTES = 64 * 1024
"""Largest signing-key file read, bytes."""

EXIT_CODES: Mapping[str, int] = {
    "SUCCESS": EXIT_OK,
    "UNSAT": EXIT_FAILED,
    "PARTIAL": EXIT_FAILED,
    "INVALID_SPEC": EXIT_INVALID,
    "TIMEOUT": EXIT_INCONCLUSIVE,
}
"""Exit code per ``SynthesisStatus`` value."""

OBJECTIVE_CHOICES = ("change", "cost")
"""Same keys as ``upir.synthesis.OBJECTIVE_ORDERS`` (a test keeps them equal); the
first is the default."""

MANIFESTS_TO_STDOUT = "-"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "synthesize", help="find parameters the verifier proves (CEGIS) and render manifests"
    )
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON; - for stdin)")
    p.add_argument(
        "-o",
        "--output",
        metavar="FORMAT",
        help="json or yaml: one object on stdout; -: the rendered manifests on stdout "
        "(for kubectl apply -f -); any other value is a directory, as --out-dir (deprecated)",
    )
    p.add_argument(
        "--json", dest="output", action="store_const", const="json", help="same as -o json"
    )
    p.add_argument(
        "--out-dir", metavar="DIR", help="write manifests, upir.yaml (and certificate) here"
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVE_CHOICES,
        default=OBJECTIVE_CHOICES[0],
        help="minimize the change from the current values first (change, the default) "
        "or the cost first (cost)",
    )
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
    from upir.certificates import CertificateError, load_signing_key

    try:
        return load_signing_key(data)
    except CertificateError as err:
        raise InvalidSpecError.single(path, str(err)) from None


def _outputs(args: argparse.Namespace) -> tuple[str | None, str | None, bool]:
    """(machine format, output directory, manifests to stdout) from ``-o``,
    ``--json`` and ``--out-dir``."""
    fmt, out_dir, to_stdout = None, args.out_dir, False
    if args.output in FORMATS:
        fmt = args.output
    elif args.output == MANIFESTS_TO_STDOUT:
        to_stdout = True
    elif args.output is not None:
        sys.stderr.write(
            f"upir: -o {args.output}: an output directory given to -o is deprecated; "
            f"use --out-dir {args.output} (-o now takes {', '.join(FORMATS)} or -)\n"
        )
        if out_dir is not None and out_dir != args.output:
            raise InvalidSpecError.single("-o", "give one output directory, with --out-dir")
        out_dir = args.output
    return fmt, out_dir, to_stdout


def run(args: argparse.Namespace, ctx: Context) -> int:
    from upir.certificates import CertificateError
    from upir.synthesis import Synthesizer, certify
    from upir.verification import ProofCache, Verifier

    name = display_name(args.file)
    fmt = args.output if args.output in FORMATS else None
    try:
        fmt, out_dir, to_stdout = _outputs(args)
        key = _signing_key(args.signing_key, os.environ)
        upir = read_one_upir(args.file)
    except InvalidSpecError as err:
        report_invalid(args.file, err)
        if fmt is not None:
            print_output(_invalid_json(err), fmt)
        return EXIT_INVALID
    cache = ProofCache(ctx.settings.cache.size) if ctx.settings.cache.size > 0 else None
    verifier = Verifier(ctx.settings.solver, cache)
    synthesizer = Synthesizer(
        ctx.settings.solver,
        verifier=verifier,
        max_iterations=args.max_iterations,
        timeout_ms=args.timeout_ms,
        objective=args.objective,
    )
    result = synthesizer.synthesize(upir)
    status = result.status.value
    code = EXIT_CODES[status]
    cert: SignedCertificate | None = None
    files: list[str] = []
    manifests = ""
    if status == "SUCCESS":
        try:
            if key is not None:
                cert = certify(upir, result, key, now=datetime.now(UTC))
            if out_dir:
                files = write_output(Path(out_dir), upir, result, cert)
            if to_stdout:
                manifests = manifests_yaml(upir, result, cert)
        except (PermanentError, CertificateError, OSError) as err:
            sys.stderr.write(f"upir: {name}: {err}\n")
            code = EXIT_INVALID
    elif out_dir or to_stdout:
        where = "to stdout" if to_stdout and not out_dir else f"to {out_dir}"
        sys.stderr.write(f"upir: {name}: {status}; nothing written {where}\n")
    if fmt is not None:
        print_output(_machine(result, cert, files, args.objective), fmt)
    elif to_stdout:
        sys.stdout.write(manifests)
        _print_human(name, result, cert, files, stream=sys.stderr)
    else:
        _print_human(name, result, cert, files)
    if status == "INVALID_SPEC":
        sys.stderr.write(f"upir: {name}: {result.explanation}\n")
    return code


def _machine(
    result: SynthesisResult, cert: SignedCertificate | None, files: list[str], objective: str
) -> dict[str, Any]:
    from upir.synthesis import OBJECTIVE_ORDERS
    from upir.synthesis.results import json_values

    out = result.to_json(details=False)
    out.update(
        {
            "bestCandidate": json_values(result.best_candidate),
            "violated": list(result.violated),
            "optimal": result.optimal,
            "objective": {k: float(v) for k, v in result.objective.items()},
            "objectiveOrder": list(OBJECTIVE_ORDERS[objective]),
            "certificate": cert.to_dict() if cert is not None else None,
            "files": files,
        }
    )
    return out


def manifests_yaml(upir: UPIR, result: SynthesisResult, cert: SignedCertificate | None) -> str:
    """The rendered manifests as one YAML stream (``---`` between documents)."""
    from upir.templates import render_manifests

    manifests = render_manifests(
        upir, result.parameters, certificate=cert.to_dict() if cert is not None else None
    )
    return yaml.safe_dump_all([_plain(m) for m in manifests], sort_keys=False)


def write_output(
    directory: Path, upir: UPIR, result: SynthesisResult, cert: SignedCertificate | None
) -> list[str]:
    """Write the manifests, the synthesized resource and the certificate; the
    paths written."""
    from upir.templates import render_manifests

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


def _invalid_json(err: InvalidSpecError) -> dict[str, Any]:
    return {
        "status": "INVALID_SPEC",
        "parameters": {},
        "iterations": 0,
        "timeMs": 0.0,
        "explanation": str(err),
        "errors": issues_json(err),
    }


def _print_human(
    path: str,
    result: SynthesisResult,
    cert: SignedCertificate | None,
    files: list[str],
    *,
    stream: Any = None,
) -> None:
    from upir.synthesis.results import json_values

    out = stream if stream is not None else sys.stdout

    def say(text: str) -> None:
        out.write(text + "\n")

    say(
        f"{path}: {result.status.value} after {result.iterations} iteration(s) "
        f"in {result.time_ms:.0f}ms"
    )
    for name, value in json_values(result.parameters).items():
        say(f"  {name} = {value}")
    say(f"  {result.explanation}")
    if result.report is not None:
        for r in result.report.results:
            say(f"  {r.status.value:<9} {r.property.name} ({r.proof}, {r.method})")
    if cert is not None:
        say(f"  certificate signed by key {cert.key_id} (digest {cert.digest[:16]})")
    for f in files:
        say(f"  wrote {f}")
