"""Entry point of the ``upir`` command. Reads settings once (environment and
``upir.toml``) and dispatches to one module per subcommand.

Start-up cost matters (``upir --help``, ``upir validate`` in a pre-commit hook):
every subcommand module is imported here, so each imports only the standard
library, PyYAML and ``upir.cli.common``/``upir.core`` at module level, and its
heavy dependencies (Z3, PyTorch, scikit-learn, cryptography) inside ``run``.
tests/unit/cli/test_startup.py checks which modules ``upir --help``, ``validate``
and ``verify`` load; benchmarks/startup.py measures them."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from upir import __version__
from upir.cli import calibrate, cert, patterns, simulate, synthesize, tune, validate, verify
from upir.cli.common import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_INVALID, Context
from upir.errors import InvalidSpecError, SettingsError
from upir.logs import configure_logging
from upir.settings import load_settings

SUBCOMMANDS = (validate, verify, synthesize, cert, patterns, tune, simulate, calibrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upir",
        description="Verify, synthesize and tune distributed-system parameters against a formal spec.",
    )
    parser.add_argument("--version", action="version", version=f"upir {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. Called with no ``argv`` (the console
    script, ``python -m upir.cli.main``) it reads ``sys.argv`` and ends the
    process itself (:func:`_exit_now`)."""
    if argv is not None:
        return _main(argv)
    try:
        code = _main(argv)
    except SystemExit as done:  # --help, --version and usage errors, from argparse
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    _exit_now(code)


def _exit_now(code: int) -> NoReturn:
    """End the process without tearing the interpreter down: after a
    verification, finalization frees every Z3 term one call at a time and
    collects the model's objects, which took 35-100 ms, as long as the rest of
    ``upir verify`` on the example (benchmarks/startup.py). Exit handlers run,
    logs and standard streams are flushed; every file was closed by its writer."""
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to say
            pass
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
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
    except BrokenPipeError:
        # the reader went away (`upir ... | head`): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
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
