"""Settings: nested frozen dataclasses, each field documenting unit and default.

The library never reads the environment. The edges (the ``upir`` command and the
operator) call :func:`load_settings` once with ``os.environ`` and the optional
``upir.toml``, then pass the result down.

Environment variables (all optional):

============================  ========================================  =======
variable                      meaning                                   default
============================  ========================================  =======
``UPIR_LOG_LEVEL``            DEBUG, INFO, WARNING or ERROR             INFO
``UPIR_CACHE_SIZE``           proof-cache entries (LRU), 0 disables it  4096
``UPIR_Z3_TIMEOUT``           per-solver-call timeout, milliseconds     10000
``UPIR_Z3_MEMORY_MB``         solver memory ceiling, MiB                2048
``UPIR_BMC_STEPS``            bounded-model-checking horizon, steps     8
``UPIR_CONFORMANCE_WINDOWS``  windows before ``Conformant`` changes     3
``UPIR_CONFIG``               path of a TOML config file                -
============================  ========================================  =======

The TOML file (``$XDG_CONFIG_HOME/upir/upir.toml`` by default) may hold the same
settings under ``[log] level``, ``[cache] size``, ``[solver] timeout_ms``,
``memory_mb``, ``bmc_steps``, ``[conformance] windows``. Environment variables
win over the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from upir.errors import SettingsError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    """Threshold of the ``upir`` loggers; one of DEBUG, INFO, WARNING, ERROR."""


@dataclass(frozen=True, slots=True)
class SolverSettings:
    timeout_ms: int = 10_000
    """Wall-clock limit of one Z3 check, in milliseconds. A check that runs out
    gives TIMEOUT, never PROVED."""
    memory_mb: int = 2048
    """Z3's memory ceiling, in MiB (``max_memory``); exceeding it gives ERROR."""
    bmc_steps: int = 8
    """Horizon of bounded model checking, in model steps, for temporal properties
    that are not proved inductively."""
    step_ms: int = 100
    """Length of one model time step, in milliseconds (WITHIN bounds are
    converted to steps with it)."""


@dataclass(frozen=True, slots=True)
class CacheSettings:
    size: int = 4096
    """Entries in the proof cache (LRU); 0 turns caching off."""


@dataclass(frozen=True, slots=True)
class ConformanceSettings:
    windows: int = 3
    """Consecutive tuning intervals (windows) that must agree before the live
    ``Conformant`` condition changes between True, False and Unknown, so one
    noisy sample does not flap it (DESIGN.md section 8). 1 = no hysteresis."""


@dataclass(frozen=True, slots=True)
class Settings:
    log: LogSettings = field(default_factory=LogSettings)
    solver: SolverSettings = field(default_factory=SolverSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    conformance: ConformanceSettings = field(default_factory=ConformanceSettings)


def _int(name: str, raw: Any, *, lo: int, hi: int) -> int:
    if isinstance(raw, bool):
        raise SettingsError(f"{name} must be an integer, got {raw!r}")
    try:
        value = int(str(raw).strip(), 10)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _level(name: str, raw: Any) -> str:
    value = str(raw).strip().upper()
    if value not in LOG_LEVELS:
        raise SettingsError(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return value


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$UPIR_CONFIG``, else ``$XDG_CONFIG_HOME/upir/upir.toml`` (``~/.config``)."""
    if environ.get("UPIR_CONFIG"):
        return Path(environ["UPIR_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "upir" / "upir.toml"


def _from_toml(path: Path, base: Settings) -> Settings:
    import tomllib  # only when a config file exists: every `upir` command starts here

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise SettingsError(f"cannot read config file {path}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: {err}") from None
    known = {
        "log": {"level"},
        "cache": {"size"},
        "solver": {"timeout_ms", "memory_mb", "bmc_steps", "step_ms"},
        "conformance": {"windows"},
    }
    for section, body in data.items():
        if section not in known or not isinstance(body, dict):
            raise SettingsError(f"{path}: unknown section [{section}]")
        for key in body:
            if key not in known[section]:
                raise SettingsError(f"{path}: unknown setting {section}.{key}")
    log, cache, solver = data.get("log", {}), data.get("cache", {}), data.get("solver", {})
    s = base
    if "level" in log:
        s = replace(s, log=LogSettings(_level("log.level", log["level"])))
    if "size" in cache:
        s = replace(s, cache=CacheSettings(_int("cache.size", cache["size"], lo=0, hi=10_000_000)))
    sol = s.solver
    if "timeout_ms" in solver:
        sol = replace(
            sol, timeout_ms=_int("solver.timeout_ms", solver["timeout_ms"], lo=1, hi=3_600_000)
        )
    if "memory_mb" in solver:
        sol = replace(
            sol, memory_mb=_int("solver.memory_mb", solver["memory_mb"], lo=16, hi=1_048_576)
        )
    if "bmc_steps" in solver:
        sol = replace(sol, bmc_steps=_int("solver.bmc_steps", solver["bmc_steps"], lo=1, hi=1000))
    if "step_ms" in solver:
        sol = replace(sol, step_ms=_int("solver.step_ms", solver["step_ms"], lo=1, hi=3_600_000))
    conformance = data.get("conformance", {})
    if "windows" in conformance:
        windows = _int("conformance.windows", conformance["windows"], lo=1, hi=1000)
        s = replace(s, conformance=ConformanceSettings(windows))
    return replace(s, solver=sol)


def load_settings(environ: Mapping[str, str], config_path: Path | None = None) -> Settings:
    """Settings from an optional TOML file and then the environment mapping.

    Raises :class:`SettingsError` naming the variable or key that is malformed."""
    s = Settings()
    path = config_path if config_path is not None else default_config_path(environ)
    if path.is_file():
        s = _from_toml(path, s)
    elif config_path is not None or environ.get("UPIR_CONFIG"):
        raise SettingsError(f"config file {path} does not exist")
    if "UPIR_LOG_LEVEL" in environ:
        s = replace(s, log=LogSettings(_level("UPIR_LOG_LEVEL", environ["UPIR_LOG_LEVEL"])))
    if "UPIR_CACHE_SIZE" in environ:
        size = _int("UPIR_CACHE_SIZE", environ["UPIR_CACHE_SIZE"], lo=0, hi=10_000_000)
        s = replace(s, cache=CacheSettings(size))
    sol = s.solver
    if "UPIR_Z3_TIMEOUT" in environ:
        sol = replace(
            sol, timeout_ms=_int("UPIR_Z3_TIMEOUT", environ["UPIR_Z3_TIMEOUT"], lo=1, hi=3_600_000)
        )
    if "UPIR_Z3_MEMORY_MB" in environ:
        sol = replace(
            sol,
            memory_mb=_int("UPIR_Z3_MEMORY_MB", environ["UPIR_Z3_MEMORY_MB"], lo=16, hi=1_048_576),
        )
    if "UPIR_BMC_STEPS" in environ:
        sol = replace(
            sol, bmc_steps=_int("UPIR_BMC_STEPS", environ["UPIR_BMC_STEPS"], lo=1, hi=1000)
        )
    if "UPIR_CONFORMANCE_WINDOWS" in environ:
        windows = _int(
            "UPIR_CONFORMANCE_WINDOWS", environ["UPIR_CONFORMANCE_WINDOWS"], lo=1, hi=1000
        )
        s = replace(s, conformance=ConformanceSettings(windows))
    return replace(s, solver=sol)
