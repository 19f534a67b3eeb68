"""The workload's tunable parameters: names, bounds, parsing and file sources.

Parameters use the UPIR names (``<component>.<param>``) so the ConfigMap the operator
writes (one key per parameter) can be mounted as-is. Two source layouts are read:

* a directory, as Kubernetes mounts a ConfigMap: one file per key, whose content is
  the value (the kubelet's ``..data`` symlink and ``..<timestamp>`` folders are
  skipped because their names start with a dot);
* a single ``.json`` / ``.yaml`` / ``.yml`` file holding a mapping, either flat
  (``{"gateway.timeout_ms": 300}``) or nested (``{"gateway": {"timeout_ms": 300}}``).

Merging is per key and forgiving on purpose: a running service must not fall over
because someone wrote a typo into its ConfigMap. Unknown keys are reported and
ignored, a bad value keeps the last good value for that key, and a key that
disappears keeps its current value.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class ParamRule:
    """How one parameter is validated.

    ``lower``/``upper`` are inclusive bounds; ``upper`` is a sanity cap that keeps a
    mistyped value (an extra zero) from spawning a million tasks.
    """

    key: str
    attr: str
    integer: bool
    lower: float
    upper: float
    unit: str
    description: str


RULES: tuple[ParamRule, ...] = (
    ParamRule(
        "gateway.timeout_ms",
        "gateway_timeout_ms",
        False,
        1.0,
        600_000.0,
        "ms",
        "per-attempt timeout of the gateway's downstream call",
    ),
    ParamRule(
        "gateway.retries", "gateway_retries", True, 0, 20, "count", "retries after a failed attempt"
    ),
    ParamRule(
        "gateway.concurrency",
        "gateway_concurrency",
        True,
        1,
        10_000,
        "count",
        "requests one gateway replica serves at once",
    ),
    ParamRule("gateway.replicas", "gateway_replicas", True, 1, 1_000, "count", "gateway replicas"),
    ParamRule(
        "orders.capacity",
        "orders_capacity",
        True,
        1,
        10_000_000,
        "items",
        "bounded queue size; a full queue drops new items",
    ),
    ParamRule(
        "batcher.batch_size", "batcher_batch_size", True, 1, 100_000, "items", "items per batch"
    ),
    ParamRule(
        "batcher.flush_ms",
        "batcher_flush_ms",
        False,
        0.0,
        600_000.0,
        "ms",
        "longest wait of the oldest item in a partial batch",
    ),
    ParamRule(
        "worker.concurrency",
        "worker_concurrency",
        True,
        1,
        10_000,
        "count",
        "batches one worker replica processes at once",
    ),
    ParamRule("worker.replicas", "worker_replicas", True, 1, 1_000, "count", "worker replicas"),
)

RULES_BY_KEY: Mapping[str, ParamRule] = {r.key: r for r in RULES}

# Kept in step with RULES by the check at the bottom of the module.
PARAM_KEYS: tuple[str, ...] = tuple(r.key for r in RULES)

# The workload's total pool sizes are replicas x concurrency; cap the product too.
MAX_POOL = 20_000


@dataclass(frozen=True, slots=True)
class Params:
    """One consistent set of parameter values (units: ms, counts, items)."""

    gateway_timeout_ms: float = 500.0
    gateway_retries: int = 1
    gateway_concurrency: int = 64
    gateway_replicas: int = 2
    orders_capacity: int = 200
    batcher_batch_size: int = 4
    batcher_flush_ms: float = 5.0
    worker_concurrency: int = 2
    worker_replicas: int = 2

    @property
    def gateway_slots(self) -> int:
        """Requests the gateway serves at once across all simulated replicas."""
        return self.gateway_concurrency * self.gateway_replicas

    @property
    def worker_slots(self) -> int:
        """Batches processed at once across all simulated worker replicas."""
        return self.worker_concurrency * self.worker_replicas

    def as_dict(self) -> dict[str, float]:
        """The values under their UPIR keys."""
        return {r.key: float(getattr(self, r.attr)) for r in RULES}


@dataclass(slots=True)
class MergeResult:
    """What merging a raw mapping into the current parameters did."""

    params: Params
    applied: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


class ParamSourceError(Exception):
    """The parameter source could not be read or parsed as a whole."""


def coerce_value(rule: ParamRule, raw: object) -> int | float:
    """Turn a raw value (number or text, as a ConfigMap file holds it) into a checked number.

    Raises ``ValueError`` with a short reason when the value is unusable.
    """
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text or len(text) > 64:
            raise ValueError(f"not a number: {raw!r}")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
    else:
        raise ValueError(f"not a number: {type(raw).__name__}")
    if not math.isfinite(number):
        raise ValueError(f"not finite: {number}")
    if rule.integer:
        if number != math.floor(number):
            raise ValueError(f"must be a whole number, got {number:g}")
    if not rule.lower <= number <= rule.upper:
        raise ValueError(f"{number:g} outside [{rule.lower:g}, {rule.upper:g}] {rule.unit}")
    return int(number) if rule.integer else number


def merge(current: Params, raw: Mapping[str, object]) -> MergeResult:
    """Merge raw key/values into ``current``; bad values keep the current value.

    A value that changes ``replicas x concurrency`` beyond ``MAX_POOL`` is rejected
    (both keys of that pool keep their last good values).
    """
    result = MergeResult(params=current)
    updates: dict[str, Any] = {}
    for key in sorted(raw):
        rule = RULES_BY_KEY.get(key)
        if rule is None:
            result.unknown.append(key)
            continue
        try:
            value = coerce_value(rule, raw[key])
        except ValueError as exc:
            result.rejected[key] = str(exc)
            continue
        if getattr(current, rule.attr) != value:
            updates[rule.attr] = value
            result.applied[key] = float(value)
    candidate = replace(current, **updates)
    for pool, keys in (
        ("gateway_slots", ("gateway.concurrency", "gateway.replicas")),
        ("worker_slots", ("worker.concurrency", "worker.replicas")),
    ):
        if getattr(candidate, pool) > MAX_POOL:
            for key in keys:
                attr = RULES_BY_KEY[key].attr
                updates.pop(attr, None)
                if key in result.applied:
                    del result.applied[key]
                    result.rejected[key] = f"replicas x concurrency would exceed {MAX_POOL}"
            candidate = replace(current, **updates)
    result.params = candidate
    return result


def _flatten(data: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# A ConfigMap key file larger than this is not a parameter value.
_MAX_VALUE_BYTES = 4096
_MAX_FILE_BYTES = 1 << 20


def read_source(path: Path) -> dict[str, object]:
    """Read raw key/values from a ConfigMap directory or a JSON/YAML file.

    Raises ``ParamSourceError`` when the source as a whole is unreadable (missing,
    unparsable, not a mapping). A single unreadable key file in a directory is
    returned as an ``OSError`` text so ``merge`` rejects just that key.
    """
    try:
        if path.is_dir():
            raw: dict[str, object] = {}
            for entry in sorted(os.listdir(path)):
                # The kubelet's bookkeeping entries (..data, ..2024_...) start with a dot.
                if entry.startswith("."):
                    continue
                item = path / entry
                if not item.is_file():
                    continue
                if item.stat().st_size > _MAX_VALUE_BYTES:
                    raw[entry] = "<oversized file>"
                    continue
                raw[entry] = item.read_text(encoding="utf-8", errors="replace")
            return raw
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ParamSourceError(f"{path}: larger than {_MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ParamSourceError(f"{path}: not found") from exc
    except OSError as exc:
        raise ParamSourceError(f"{path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ParamSourceError(f"{path}: cannot parse: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ParamSourceError(f"{path}: top level must be a mapping of key to number")
    return _flatten(data)


def fingerprint(path: Path) -> tuple[object, ...]:
    """A cheap value that changes whenever the source's content may have changed.

    Uses ``stat`` only (no reads): the directory's own mtime plus, for every entry,
    the mtime, size and inode of what it resolves to. The kubelet swaps the
    ``..data`` symlink to a new timestamped folder, so the resolved inodes change
    even when sizes and clocks do not. A missing source gives ``("missing",)``.
    """
    try:
        top = path.stat()
        parts: list[object] = [top.st_mtime_ns, top.st_size, top.st_ino]
        if path.is_dir():
            for entry in sorted(os.listdir(path)):
                try:
                    st = (path / entry).stat()
                except OSError:
                    parts.append((entry, None))
                    continue
                parts.append((entry, st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(parts)
    except OSError:
        return ("missing",)


if tuple(f.name for f in fields(Params)) != tuple(r.attr for r in RULES):  # pragma: no cover
    raise RuntimeError("RULES and Params fields are out of step")
