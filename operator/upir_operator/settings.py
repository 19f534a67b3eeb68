"""Operator settings, read once from ``UPIR_*`` environment variables at start-up.

Every field documents its unit and default. A malformed variable stops the
operator at start-up with a message naming it (no half-configured operator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from upir.errors import SettingsError
from upir.settings import Settings, load_settings


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    library: Settings = field(default_factory=Settings)
    """Solver, cache and log settings shared with the ``upir`` command."""
    namespace: str | None = None
    """Watch only this namespace (``UPIR_NAMESPACE``); None = every namespace."""
    signing_key_file: Path | None = None
    """PEM Ed25519 private key for certificates (``UPIR_SIGNING_KEY_FILE``, a mounted
    Secret). None = an ephemeral key generated at start-up (logged as a warning)."""
    metrics_port: int = 8080
    """Port of ``/metrics`` (``UPIR_METRICS_PORT``); 0 disables the endpoint."""
    health_port: int = 8081
    """Port of kopf's liveness endpoint ``/healthz`` (``UPIR_HEALTH_PORT``); 0 disables."""
    recheck_seconds: float = 300.0
    """Level-based re-verification period, seconds (``UPIR_RECHECK_SECONDS``)."""
    peering: str | None = None
    """kopf peering name (``UPIR_PEERING``) so several replicas run safely; None =
    standalone (one replica only)."""
    field_manager: str = "upir-operator"
    """Field manager for server-side apply (``UPIR_FIELD_MANAGER``)."""
    workers: int = 2
    """Threads for solver and PyTorch work (``UPIR_WORKERS``): keeps the event loop free."""
    prometheus_timeout_s: float = 5.0
    """Timeout of one Prometheus HTTP query, seconds (``UPIR_PROMETHEUS_TIMEOUT``)."""
    max_metric_age_s: float = 300.0
    """Older Prometheus samples count as stale and hold tuning (``UPIR_MAX_METRIC_AGE``)."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def load_operator_settings(env: Mapping[str, str]) -> OperatorSettings:
    """Validate every ``UPIR_*`` variable; raise SettingsError naming the bad one."""
    key = env.get("UPIR_SIGNING_KEY_FILE") or None
    if key is not None and not Path(key).is_file():
        raise SettingsError(f"UPIR_SIGNING_KEY_FILE={key} does not exist or is not a file")
    return OperatorSettings(
        library=load_settings(env),
        namespace=env.get("UPIR_NAMESPACE") or None,
        signing_key_file=Path(key) if key else None,
        metrics_port=_int(env, "UPIR_METRICS_PORT", 8080, 0, 65535),
        health_port=_int(env, "UPIR_HEALTH_PORT", 8081, 0, 65535),
        recheck_seconds=_float(env, "UPIR_RECHECK_SECONDS", 300.0, 1.0, 86400.0),
        peering=env.get("UPIR_PEERING") or None,
        field_manager=env.get("UPIR_FIELD_MANAGER") or "upir-operator",
        workers=_int(env, "UPIR_WORKERS", 2, 1, 64),
        prometheus_timeout_s=_float(env, "UPIR_PROMETHEUS_TIMEOUT", 5.0, 0.1, 120.0),
        max_metric_age_s=_float(env, "UPIR_MAX_METRIC_AGE", 300.0, 1.0, 86400.0),
    )
