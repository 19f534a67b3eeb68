"""Kubernetes events on a UPIR, Normal and Warning alike.

``kopf.info`` posts only when ``posting.level`` is INFO or lower, and the
operator sets WARNING so that kopf's own per-handler log lines do not become
events. The documented events (Applied, Recommended, RolledBack, TuningHeld,
...) are posted here with ``kopf.event``, which ignores the level.
"""

from __future__ import annotations

from typing import Any

import kopf

MAX_MESSAGE = 1000
"""Longest event message, characters (the API server accepts 1 KiB notes)."""


def normal(body: Any, reason: str, message: str) -> None:
    kopf.event(body, type="Normal", reason=reason, message=message[:MAX_MESSAGE])


def warning(body: Any, reason: str, message: str) -> None:
    kopf.event(body, type="Warning", reason=reason, message=message[:MAX_MESSAGE])
