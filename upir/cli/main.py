"""Entry point of the ``upir`` command. Reads settings once (environment and
``upir.toml``) and dispatches to one module per subcommand."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from upir import __version__
from upir.cli import (
    cert,
    patterns,
    simulate,  # light: the simulator loads when the command runs
    synthesize,
    tune,
    validate,
    verify,
)
from upir.cli.common import EXIT_INCONCLUSIVE, EXIT_INVALID, Context
from upir.errors import InvalidSpecError, SettingsError
from upir.logs import configure_logging
from upir.settings import load_settings

SUBCOMMANDS = (validate, verify, synthesize, cert, patterns, tune)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upir",
        description="Verify, synthesize and tune distributed-system parameters against a formal spec.",
    )
    parser.add_argument("--version", action="version", version=f"upir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    simulate.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as err:
        sys.stderr.write(f"upir: {err}\n")
        return EXIT_INVALID
    configure_logging(settings.log)
    try:
        code: int = args.run(args, Context(settings))
        return code
    except InvalidSpecError as err:
        for issue in err.issues:
            sys.stderr.write(f"upir: {issue}\n")
        return EXIT_INVALID
    except KeyboardInterrupt:
        sys.stderr.write("upir: interrupted\n")
        return 130
    except Exception as err:  # the last line of defence: no traceback for users
        logging.getLogger("upir.cli").debug("internal error", exc_info=True)
        sys.stderr.write(
            f"upir: internal error: {type(err).__name__}: {err} "
            "(run with UPIR_LOG_LEVEL=DEBUG for details)\n"
        )
        return EXIT_INCONCLUSIVE


if __name__ == "__main__":
    sys.exit(main())
