"""``upir calibrate FILE (--prometheus URL [--range 1h] [--step S] | --metrics FILE)``:
observed environment values against the assumptions (DESIGN.md section 8).

Prints, per ``env.*`` name, the samples observed and their min, p99 and max;
per assumption, whether the data cover it, break it or never observed it; and
assumptions that cover the data with a margin as a YAML merge patch
(``kubectl patch up NAME --type merge --patch-file PATCH``). Exit 0 when no
assumption is broken, 1 when some are, 2 for invalid input (including a
Prometheus that cannot be read).

``--prometheus URL`` runs each PromQL query of ``spec.tuning.prometheus.environment``
as a range query over the last ``--range`` (``30m``, ``1h``, ``2d``...) at
``--step``; each must return one series. ``--metrics FILE`` (YAML or JSON, ``-``
for stdin) maps env names (``arrival_rps`` or ``env.arrival_rps``) to a list of
values or of ``[unix seconds, value]`` pairs (Prometheus' matrix ``values``).
``-o json|yaml`` prints one object instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from upir.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format_options,
    print_output,
    read_one_upir,
)

if TYPE_CHECKING:
    from upir.conformance import Calibration
    from upir.core.upir import UPIR

EXIT_BROKEN = 1
_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_POINTS = 11_000
"""Prometheus refuses a range query of more than 11,000 points per series."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "calibrate",
        help="check observed environment values against the assumptions; propose covering ones",
    )
    p.add_argument("file", metavar="FILE", help="a UPIR resource (YAML or JSON; - for stdin)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prometheus", metavar="URL", help="Prometheus HTTP API base URL")
    src.add_argument("--metrics", metavar="FILE", help="observed values (YAML or JSON)")
    p.add_argument("--range", default="1h", help="how far back --prometheus reads (default 1h)")
    p.add_argument("--step", default="", help="range query step (default: range / 240)")
    p.add_argument(
        "--margin", default="0.1", help="headroom beyond the observed range (default 0.1 = 10%%)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per Prometheus request (default 30)"
    )
    add_format_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from upir.conformance import calibrate

    upir = read_one_upir(args.file)
    try:
        margin = Fraction(args.margin)
        if margin < 0:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        return _invalid("--margin", f"not a non-negative number: {args.margin!r}")
    try:
        if args.metrics is not None:
            observations = _from_file(args.metrics, upir)
        else:
            observations = _from_prometheus(args, upir)
    except _Invalid as err:
        return _invalid(err.where, err.message)
    result = calibrate(upir, observations, margin)
    if args.format is not None:
        print_output(_as_json(result), args.format)
    else:
        _print_human(result)
    return EXIT_BROKEN if result.broken else EXIT_OK


class _Invalid(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _invalid(where: str, message: str) -> int:
    sys.stderr.write(f"upir: {where}: {message}\n")
    return EXIT_INVALID


def _from_file(path: str, upir: UPIR) -> dict[str, list[tuple[float, Fraction]]]:
    from upir.cli.common import read_documents
    from upir.conformance.calibrate import observations_from

    docs = read_documents(path)
    if len(docs) != 1:
        raise _Invalid("--metrics", f"expected one document, found {len(docs)}")
    try:
        return observations_from(docs[0], upir)
    except ValueError as err:
        raise _Invalid("--metrics", str(err)) from None


def _from_prometheus(
    args: argparse.Namespace, upir: UPIR
) -> dict[str, list[tuple[float, Fraction]]]:
    from upir.conformance.calibrate import samples_of

    prom = upir.tuning.prometheus
    queries = dict(prom.environment) if prom is not None else {}
    if not queries:
        raise _Invalid(
            "spec.tuning.prometheus.environment",
            "no environment queries to run; add PromQL per env name, or use --metrics",
        )
    span = _duration(args.range, "--range")
    step = _duration(args.step, "--step") if args.step else max(1, span // 240)
    if span // step > MAX_POINTS:
        raise _Invalid(
            "--step", f"{span // step} points per series; Prometheus allows {MAX_POINTS}"
        )
    end = time.time()
    out: dict[str, list[tuple[float, Fraction]]] = {}
    for key, promql in sorted(queries.items()):
        where = f"spec.tuning.prometheus.environment.{key}"
        params = {
            "query": promql,
            "start": f"{end - span:.3f}",
            "end": f"{end:.3f}",
            "step": str(step),
        }
        data = _get(
            args.prometheus.rstrip("/") + "/api/v1/query_range", params, args.timeout, where
        )
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            raise _Invalid(where, "the range query did not return a matrix")
        if len(result) != 1:
            raise _Invalid(where, f"returned {len(result)} series; it must return one")
        try:
            out[f"env.{key}"] = samples_of(result[0].get("values"), where)
        except ValueError as err:
            raise _Invalid(where, str(err)) from None
    return out


def _get(url: str, params: dict[str, str], timeout: float, where: str) -> dict[str, Any]:
    full = f"{url}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(full, timeout=timeout) as resp:
            payload = json.load(resp)
    except urllib.error.HTTPError as err:
        try:
            detail = json.load(err).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        raise _Invalid(where, f"Prometheus answered {err.code} {detail}".strip()) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise _Invalid("--prometheus", f"cannot reach {url}: {err}") from None
    except ValueError:
        raise _Invalid(where, "Prometheus answered something that is not JSON") from None
    if not isinstance(payload, dict) or payload.get("status") != "success":
        raise _Invalid(where, f"Prometheus query failed: {payload.get('error', payload)}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise _Invalid(where, "Prometheus answered without data")
    return data


def _duration(text: str, where: str) -> int:
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise _Invalid(where, f"not a duration like 30s, 15m, 1h or 2d: {text!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _num(x: Fraction) -> float | int:
    return x.numerator if x.denominator == 1 else float(x)


def _as_json(result: Calibration) -> dict[str, Any]:
    return {
        "covered": not result.broken,
        "environment": [
            {
                "name": s.name,
                "samples": s.samples,
                "min": _num(s.min),
                "p99": _num(s.p99),
                "max": _num(s.max),
            }
            for s in result.summaries
        ],
        "assumptions": [
            {
                "assumption": c.text,
                "coverage": c.coverage.value,
                "instants": c.instants,
                "violations": c.violations,
                "example": None
                if c.example is None
                else {"at": c.example[0], "values": {k: _num(v) for k, v in c.example[1].items()}},
                "missing": list(c.missing),
            }
            for c in result.checks
        ],
        "proposal": [
            {"assumption": p.text, "action": p.action, "original": p.original}
            for p in result.proposals
        ],
        "patch": result.patch(),
    }


def _print_human(result: Calibration) -> None:
    import yaml

    out = sys.stdout
    out.write("observed environment:\n")
    width = max((len(s.name) for s in result.summaries), default=4)
    for s in result.summaries:
        out.write(
            f"  {s.name:<{width}}  {s.samples:>6} samples  min {_show(s.min)}  "
            f"p99 {_show(s.p99)}  max {_show(s.max)}\n"
        )
    out.write("assumptions:\n")
    for c in result.checks:
        out.write(f"  {c.coverage.value.upper():<10} {c.describe()}\n")
    changed = [p for p in result.proposals if p.action != "kept"]
    if not changed:
        out.write("every observed assumption holds; nothing to change\n")
        return
    out.write("proposed:\n")
    for p in changed:
        was = f" (was '{p.original}')" if p.original and p.action == "widened" else ""
        note = " (broken, relates several names: widen it by hand)" if p.action == "flagged" else ""
        out.write(f"  {p.action:<8} {p.text}{was}{note}\n")
    out.write("# patch: kubectl patch up NAME --type merge --patch-file PATCH\n")
    out.write(yaml.safe_dump(result.patch(), sort_keys=False))


def _show(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.6g}"
