"""Fixtures shared by the operator's unit tests: one real engine per module,
and the events the code under test posts (recorded, not sent)."""

from __future__ import annotations

import pytest
from upir_operator import events
from upir_operator.engine import Engine

from upir.certificates import generate_signing_key
from upir.settings import Settings


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(Settings(), generate_signing_key())


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """The events posted, as (type, reason, message)."""
    out: list[tuple[str, str, str]] = []
    monkeypatch.setattr(events, "normal", lambda b, r, m: out.append(("Normal", r, m)))
    monkeypatch.setattr(events, "warning", lambda b, r, m: out.append(("Warning", r, m)))
    return out
