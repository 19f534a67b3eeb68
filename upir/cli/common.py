"""Helpers shared by the subcommands: reading resource files, exit codes."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Context:
    """What every subcommand gets: the settings read once at the edge."""

    settings: Settings


def read_documents(path: str) -> list[dict[str, Any]]:
    """Every document of a YAML/JSON file. Raises InvalidSpecError for unreadable
    files, syntax errors and oversized input."""
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
    return load_documents(text, source=path)


def read_upirs(path: str) -> list[UPIR]:
    """Every UPIR in a file (other kinds are skipped); InvalidSpecError on any
    bad document, with fields prefixed by the document index when there are several."""
    docs = read_documents(path)
    upirs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "UPIR"]
    if not upirs:
        if len(docs) == 1:
            # a single document that is not a UPIR: let validation name what is wrong
            upirs = docs
        else:
            raise InvalidSpecError.single(path, "no document of kind UPIR in this file")
    out = []
    for doc in upirs:
        out.append(UPIR.from_resource(doc))
    return out


def read_one_upir(path: str) -> UPIR:
    upirs = read_upirs(path)
    if len(upirs) != 1:
        raise InvalidSpecError.single(path, f"expected exactly one UPIR, found {len(upirs)}")
    return upirs[0]


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def report_invalid(path: str, err: InvalidSpecError) -> None:
    sys.stderr.write(f"{path}: invalid\n")
    for issue in err.issues:
        sys.stderr.write(f"  {issue}\n")
