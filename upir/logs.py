"""Log line format shared by the command line and the operator:

``[2026-11-21 10:30:45] INFO upir.verification: Proved 'no_loss' in 45ms (cached: false)``

Library modules only ever call ``logging.getLogger(__name__)``; the edges call
:func:`configure_logging` once.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from upir.settings import LogSettings

FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def make_formatter() -> logging.Formatter:
    return logging.Formatter(FORMAT, DATE_FORMAT)


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> logging.Handler:
    """Send ``upir*`` loggers to ``stream`` (stderr) at the configured level.

    Returns the handler so a caller (a test, the operator) can remove it again."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(make_formatter())
    for name in ("upir", "upir_operator"):
        logger = logging.getLogger(name)
        logger.setLevel(settings.level)
        logger.addHandler(handler)
        logger.propagate = False
    return handler
