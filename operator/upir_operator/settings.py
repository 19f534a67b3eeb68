"""Operator settings, read once from ``UPIR_*`` environment variables at start-up.

Every field documents its unit and default. A malformed variable stops the
operator at start-up with a message naming it (no half-configured operator).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from upir.errors import InvalidSpecError, SettingsError
from upir.settings import Settings, load_settings
from upir.tuning.settings import HoldSettings, RollbackSettings, TuningSettings


@dataclass(frozen=True, slots=True)
class PrometheusAccess:
    """How the tuning loop authenticates to Prometheus (Thanos, Mimir, Cortex or a
    managed service) and trusts its certificate. Files are mounted Secrets and are
    read at every query, so a rotated token or password needs no restart."""

    bearer_token_file: Path | None = None
    """File holding a bearer token sent as ``Authorization: Bearer``
    (``UPIR_PROMETHEUS_BEARER_TOKEN_FILE``). None = no token."""
    username: str | None = None
    """HTTP basic-auth user (``UPIR_PROMETHEUS_USERNAME``; Prometheus's own
    ``--web.config.file`` basic_auth_users). Needs ``password_file``."""
    password_file: Path | None = None
    """File holding the basic-auth password (``UPIR_PROMETHEUS_PASSWORD_FILE``)."""
    ca_file: Path | None = None
    """PEM bundle of the CAs that sign Prometheus's TLS certificate
    (``UPIR_PROMETHEUS_CA_FILE``). None = the system's trust store."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers, e.g. a tenant id (``UPIR_PROMETHEUS_HEADERS`` =
    ``X-Scope-OrgID=team-a,Other=value``)."""


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
    inconclusive_retry_seconds: float = 30.0
    """First delay before evaluating again an object whose synthesis or proof ran
    out of time with nothing proved applied, seconds
    (``UPIR_INCONCLUSIVE_RETRY_SECONDS``); it doubles on each retry, up to
    ``recheck_seconds``. A time-out is temporary (a loaded node, a slow solver
    call), so waiting a full re-check period would leave the workload unproved
    longer than needed."""
    peering: str | None = None
    """kopf peering name (``UPIR_PEERING``) so several replicas run safely; None =
    standalone (one replica only)."""
    field_manager: str = "upir-operator"
    """Field manager for server-side apply (``UPIR_FIELD_MANAGER``)."""
    workers: int = 2
    """Threads for solver and PyTorch work (``UPIR_WORKERS``): keeps the event loop free."""
    prometheus_timeout_s: float = 5.0
    """Timeout of one Prometheus HTTP query, seconds (``UPIR_PROMETHEUS_TIMEOUT``)."""
    prometheus: PrometheusAccess = field(default_factory=PrometheusAccess)
    """Credentials, CA and headers for Prometheus (``UPIR_PROMETHEUS_*``)."""
    tuning: TuningSettings = field(default_factory=TuningSettings)
    """The tuning loop's defaults for every UPIR (``UPIR_TUNING_*``,
    ``UPIR_MAX_METRIC_AGE``; see :data:`TUNING_ENV`); a UPIR's
    ``spec.tuning.learner`` overrides ``model``."""


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


def _file(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name) or None
    if raw is not None and not Path(raw).is_file():
        raise SettingsError(f"{name}={raw} does not exist or is not a file")
    return Path(raw) if raw else None


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token


def _headers(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    raw = env.get(name) or ""
    out = []
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(key) or any(c in value for c in "\r\n"):
            raise SettingsError(
                f"{name} must be Name=value pairs separated by commas, got {item!r}"
            )
        out.append((key, value))
    return tuple(out)


def load_prometheus_access(env: Mapping[str, str]) -> PrometheusAccess:
    access = PrometheusAccess(
        bearer_token_file=_file(env, "UPIR_PROMETHEUS_BEARER_TOKEN_FILE"),
        username=env.get("UPIR_PROMETHEUS_USERNAME") or None,
        password_file=_file(env, "UPIR_PROMETHEUS_PASSWORD_FILE"),
        ca_file=_file(env, "UPIR_PROMETHEUS_CA_FILE"),
        headers=_headers(env, "UPIR_PROMETHEUS_HEADERS"),
    )
    if (access.username is None) != (access.password_file is None):
        raise SettingsError(
            "UPIR_PROMETHEUS_USERNAME and UPIR_PROMETHEUS_PASSWORD_FILE go together"
        )
    if access.username is not None and access.bearer_token_file is not None:
        raise SettingsError(
            "set UPIR_PROMETHEUS_BEARER_TOKEN_FILE or UPIR_PROMETHEUS_USERNAME, not both"
        )
    return access


TUNING_ENV = {
    "model": "UPIR_TUNING_MODEL",
    "attempts": "UPIR_TUNING_ATTEMPTS",
    "rollback.threshold": "UPIR_TUNING_ROLLBACK_THRESHOLD",
    "rollback.windows": "UPIR_TUNING_ROLLBACK_WINDOWS",
    "hold.max_age_s": "UPIR_MAX_METRIC_AGE",
    "hold.min_throughput_rps": "UPIR_TUNING_MIN_THROUGHPUT",
    "seed": "UPIR_TUNING_SEED",
}
"""The :class:`TuningSettings` fields the operator reads from the environment
(chart values ``operator.tuning.*``): ``UPIR_TUNING_MODEL`` is ``auto`` (the
default: the benchmark's winner exactly where a UPIR observes its load),
``on`` or ``off``; ``UPIR_TUNING_ROLLBACK_THRESHOLD`` 0 turns rollback off."""

_MODEL = {"auto": None, "on": True, "off": False}


def load_tuning_settings(env: Mapping[str, str]) -> TuningSettings:
    """The tuning tree from ``UPIR_TUNING_*``: types are read here, ranges are
    :meth:`TuningSettings.problems`' (the one check), reported by variable."""
    inf = float("inf")
    model_raw = (env.get("UPIR_TUNING_MODEL") or "auto").strip().lower()
    if model_raw not in _MODEL:
        raise SettingsError(f"UPIR_TUNING_MODEL must be auto, on or off, got {model_raw!r}")
    threshold = _float(env, "UPIR_TUNING_ROLLBACK_THRESHOLD", 0.2, 0.0, inf)
    settings = TuningSettings(
        model=_MODEL[model_raw],
        attempts=_int(env, "UPIR_TUNING_ATTEMPTS", 2, -(2**31), 2**31),
        rollback=RollbackSettings(
            enabled=threshold > 0,
            threshold=threshold or 0.2,
            windows=_int(env, "UPIR_TUNING_ROLLBACK_WINDOWS", 2, -(2**31), 2**31),
        ),
        hold=HoldSettings(
            max_age_s=_float(env, "UPIR_MAX_METRIC_AGE", 300.0, 1.0, 86400.0),
            min_throughput_rps=_float(env, "UPIR_TUNING_MIN_THROUGHPUT", 0.0, -inf, inf),
        ),
        seed=_int(env, "UPIR_TUNING_SEED", 0, -(2**31), 2**31),
    )
    try:
        return settings.validate()
    except InvalidSpecError as err:
        first = err.issues[0]
        name = TUNING_ENV.get(first.field, f"tuning.{first.field}")
        raise SettingsError(f"{name}: {first.message}") from None


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
        inconclusive_retry_seconds=_float(
            env, "UPIR_INCONCLUSIVE_RETRY_SECONDS", 30.0, 1.0, 86400.0
        ),
        peering=env.get("UPIR_PEERING") or None,
        field_manager=env.get("UPIR_FIELD_MANAGER") or "upir-operator",
        workers=_int(env, "UPIR_WORKERS", 2, 1, 64),
        prometheus_timeout_s=_float(env, "UPIR_PROMETHEUS_TIMEOUT", 5.0, 0.1, 120.0),
        prometheus=load_prometheus_access(env),
        tuning=load_tuning_settings(env),
    )
