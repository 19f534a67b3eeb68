"""``upir validate FILE...``: schema and expression checks (exit 0 valid, 2 invalid)."""

from __future__ import annotations

import argparse

from upir.cli.common import EXIT_INVALID, EXIT_OK, Context, read_upirs, report_invalid
from upir.errors import InvalidSpecError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("validate", help="check UPIR files against the schema and expression rules")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    code = EXIT_OK
    for path in args.files:
        try:
            upirs = read_upirs(path)
        except InvalidSpecError as err:
            report_invalid(path, err)
            code = EXIT_INVALID
            continue
        for u in upirs:
            n_props = len(u.specification.all_properties())
            print(
                f"{path}: valid: UPIR {u.name!r} ({u.system_type}; {len(u.architecture.components)} "
                f"components, {n_props} properties, {len(u.parameters)} tunable parameters)"
            )
    return code
