"""``upir validate FILE... [-o json|yaml]``: schema and expression checks (exit 0
valid, 2 invalid). ``-`` reads standard input.

``-o json`` (``--json``) prints one object: ``{"valid", "files": [{"file",
"valid", "upirs": [{"name", "systemType", "components", "properties",
"parameters"}], "errors": [{"field", "message", "position"}]}]}``; the problems
also go to stderr, as in human output.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from upir.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format_options,
    display_name,
    issues_json,
    print_output,
    read_upirs,
    report_invalid,
)
from upir.errors import InvalidSpecError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="check UPIR files against the schema and expression rules")
    p.add_argument("files", nargs="+", metavar="FILE", help="YAML or JSON files (- for stdin)")
    add_format_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.files.count("-") > 1:
        sys.stderr.write("upir: standard input (-) can be read only once\n")
        return EXIT_INVALID
    code = EXIT_OK
    files: list[dict[str, Any]] = []
    for path in args.files:
        name = display_name(path)
        try:
            upirs = read_upirs(path)
        except InvalidSpecError as err:
            report_invalid(path, err)
            code = EXIT_INVALID
            files.append({"file": name, "valid": False, "upirs": [], "errors": issues_json(err)})
            continue
        summaries = []
        for u in upirs:
            summaries.append(
                {
                    "name": u.name,
                    "systemType": u.system_type,
                    "components": len(u.architecture.components),
                    "properties": len(u.specification.all_properties()),
                    "parameters": len(u.parameters),
                }
            )
        files.append({"file": name, "valid": True, "upirs": summaries, "errors": []})
        if args.format is None:
            for s in summaries:
                print(
                    f"{name}: valid: UPIR {s['name']!r} ({s['systemType']}; {s['components']} "
                    f"components, {s['properties']} properties, {s['parameters']} tunable parameters)"
                )
    if args.format is not None:
        print_output({"valid": code == EXIT_OK, "files": files}, args.format)
    return code
