"""Helpers shared by the subcommands: reading resource files (``-`` is standard
input), exit codes, machine output (``-o json|yaml``, ``--json``).

This module is imported by every subcommand module at start-up, so it imports
nothing heavy (no Z3, PyTorch or scikit-learn); see ``upir.cli.main``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from upir.core import UPIR
from upir.errors import InvalidSpecError
from upir.resource import load_documents
from upir.settings import Settings

MAX_FILE_BYTES = 1 << 20
"""Largest resource file read, bytes (1 MiB); larger files are refused unread."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INCONCLUSIVE = 3

STDIN = "-"
"""The file name that means standard input, as in kubectl and helm."""

STDIN_NAME = "<stdin>"
"""How standard input is named in messages and reports."""

FORMATS = ("json", "yaml")
"""Machine output formats every command offers with ``-o``."""


@dataclass(frozen=True)
class Context:
    """What every subcommand gets: the settings read once at the edge."""

    settings: Settings


def display_name(path: str) -> str:
    """``path`` as messages show it (``<stdin>`` for ``-``)."""
    return STDIN_NAME if path == STDIN else path


def read_text(path: str) -> str:
    """The text of a resource file, or of standard input for ``-``. Raises
    InvalidSpecError for unreadable files, non-UTF-8 text and oversized input."""
    if path == STDIN:
        return _read_stdin()
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidSpecError.single(
                path, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}"
            )
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidSpecError.single(path, "file is not UTF-8 text") from None
    except OSError as err:
        raise InvalidSpecError.single(path, f"cannot read file: {err.strerror or err}") from None
    return text


def _read_stdin() -> str:
    # one byte past the limit tells an oversized input from one exactly at it
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidSpecError.single(
            STDIN_NAME, f"input is over {MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSpecError.single(STDIN_NAME, "input is not UTF-8 text") from None


def read_documents(path: str) -> list[dict[str, Any]]:
    """Every document of a YAML/JSON file (``-``: standard input). Raises
    InvalidSpecError for unreadable files, syntax errors and oversized input."""
    return load_documents(read_text(path), source=display_name(path))


def read_upirs(path: str) -> list[UPIR]:
    """Every UPIR in a file (other kinds are skipped); InvalidSpecError on any
    bad document."""
    return upirs_of(read_documents(path), display_name(path))


def upir_documents(docs: list[dict[str, Any]], name: str) -> list[tuple[int, dict[str, Any]]]:
    """The UPIR documents of a file with their 0-based index among its documents."""
    upirs = [(i, d) for i, d in enumerate(docs) if isinstance(d, dict) and d.get("kind") == "UPIR"]
    if not upirs:
        if len(docs) == 1:
            # a single document that is not a UPIR: let validation name what is wrong
            return [(0, docs[0])]
        raise InvalidSpecError.single(name, "no document of kind UPIR in this file")
    return upirs


def upirs_of(docs: list[dict[str, Any]], name: str) -> list[UPIR]:
    return [UPIR.from_resource(doc) for _, doc in upir_documents(docs, name)]


def read_one_upir(path: str) -> UPIR:
    upirs = read_upirs(path)
    if len(upirs) != 1:
        raise InvalidSpecError.single(path, f"expected exactly one UPIR, found {len(upirs)}")
    return upirs[0]


def add_format_options(p: argparse.ArgumentParser, *, extra: tuple[str, ...] = ()) -> None:
    """``-o/--output FORMAT`` (json, yaml and ``extra``) and ``--json`` (``-o json``),
    both into ``args.format`` (None: human output)."""
    formats = FORMATS + extra
    p.add_argument(
        "-o",
        "--output",
        dest="format",
        choices=formats,
        metavar="FORMAT",
        help=f"machine output on stdout: {', '.join(formats)}",
    )
    p.add_argument(
        "--json", dest="format", action="store_const", const="json", help="same as -o json"
    )


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def print_output(value: object, fmt: str) -> None:
    """One machine-readable object on stdout, as JSON or YAML."""
    if fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(value, sort_keys=False))
    else:
        print_json(value)


def issues_json(err: InvalidSpecError) -> list[dict[str, Any]]:
    """The problems of invalid input, for machine output."""
    return [{"field": i.field, "message": i.message, "position": i.position} for i in err.issues]


def report_invalid(path: str, err: InvalidSpecError) -> None:
    path = display_name(path)
    sys.stderr.write(f"{path}: invalid\n")
    for issue in err.issues:
        sys.stderr.write(f"  {issue}\n")
