"""Fixtures shared by the tuning tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from upir.core import UPIR


@pytest.fixture
def gateway_upir(make_upir: Callable[..., UPIR]) -> UPIR:
    """One gateway with two tunable parameters, retries (0-3, now 1) and
    replicas (1-16, now 4), and a latency bound of 400 ms."""
    return make_upir(
        [{"name": "gateway", "type": "service", "params": {"retries": 1, "replicas": 4}}],
        constraints={"latency_ms": {"max": 400}},
        parameters=[
            {"name": "gateway.retries", "min": 0, "max": 3},
            {"name": "gateway.replicas", "min": 1, "max": 16},
        ],
    )
