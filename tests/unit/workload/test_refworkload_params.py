"""Parameter parsing, merging and source reading of the reference workload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from refworkload.params import (
    MAX_POOL,
    PARAM_KEYS,
    RULES_BY_KEY,
    Params,
    ParamSourceError,
    coerce_value,
    fingerprint,
    merge,
    read_source,
)
from upir_e2e.workload import project_configmap


def test_param_keys_are_the_upir_names() -> None:
    assert PARAM_KEYS == (
        "gateway.timeout_ms",
        "gateway.retries",
        "gateway.concurrency",
        "gateway.replicas",
        "orders.capacity",
        "batcher.batch_size",
        "batcher.flush_ms",
        "worker.concurrency",
        "worker.replicas",
    )


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("gateway.timeout_ms", "300\n", 300.0),
        ("gateway.timeout_ms", " 12.5 ", 12.5),
        ("gateway.timeout_ms", 7, 7.0),
        ("gateway.retries", "3", 3),
        ("gateway.retries", 2.0, 2),
        ("orders.capacity", "1e3", 1000),
        ("batcher.flush_ms", "0", 0.0),
    ],
)
def test_coerce_accepts_numbers_and_numeric_text(key: str, raw: object, expected: float) -> None:
    value = coerce_value(RULES_BY_KEY[key], raw)
    assert value == expected
    assert isinstance(value, int) == RULES_BY_KEY[key].integer


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("gateway.retries", "2.5", "whole number"),
        ("gateway.retries", "-1", "outside"),
        ("gateway.timeout_ms", "0", "outside"),
        ("gateway.timeout_ms", "nan", "not finite"),
        ("gateway.timeout_ms", "inf", "not finite"),
        ("gateway.timeout_ms", "fast", "not a number"),
        ("gateway.timeout_ms", "", "not a number"),
        ("gateway.timeout_ms", True, "boolean"),
        ("gateway.timeout_ms", [1], "not a number"),
        ("orders.capacity", "0", "outside"),
        ("worker.concurrency", "1e9", "outside"),
    ],
)
def test_coerce_rejects_bad_values(key: str, raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        coerce_value(RULES_BY_KEY[key], raw)


def test_merge_applies_good_keeps_last_good_on_bad_and_ignores_unknown() -> None:
    start = Params(gateway_timeout_ms=500.0, gateway_retries=1, orders_capacity=200)
    result = merge(
        start,
        {
            "gateway.timeout_ms": "250",
            "gateway.retries": "many",
            "orders.capacity": "200",  # same value: not reported as applied
            "gateway.cost_per_replica": "3",
        },
    )
    assert result.params.gateway_timeout_ms == 250.0
    assert result.params.gateway_retries == 1
    assert result.applied == {"gateway.timeout_ms": 250.0}
    assert set(result.rejected) == {"gateway.retries"}
    assert result.unknown == ["gateway.cost_per_replica"]
    assert result.changed


def test_merge_without_changes_is_not_changed() -> None:
    result = merge(Params(), Params().as_dict())
    assert not result.changed
    assert result.params == Params()


def test_merge_rejects_pool_over_the_cap_but_keeps_other_changes() -> None:
    result = merge(
        Params(),
        {"worker.concurrency": 1000, "worker.replicas": 1000, "batcher.batch_size": 16},
    )
    assert result.params.worker_slots == Params().worker_slots
    assert result.params.batcher_batch_size == 16
    assert "worker.concurrency" in result.rejected
    assert str(MAX_POOL) in result.rejected["worker.replicas"]


def test_read_source_from_a_kubelet_style_configmap_directory(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"gateway.timeout_ms": 300, "batcher.flush_ms": 2.5})
    raw = read_source(mount)
    # The kubelet's ..data link and ..timestamp folder are not keys.
    assert raw == {"batcher.flush_ms": "2.5", "gateway.timeout_ms": "300"}
    result = merge(Params(), raw)
    assert result.params.gateway_timeout_ms == 300.0
    assert result.params.batcher_flush_ms == 2.5


def test_read_source_flat_json_and_nested_yaml(tmp_path: Path) -> None:
    flat = tmp_path / "p.json"
    flat.write_text(json.dumps({"gateway.retries": 3, "orders.capacity": 50}))
    assert read_source(flat) == {"gateway.retries": 3, "orders.capacity": 50}
    nested = tmp_path / "p.yaml"
    nested.write_text("gateway:\n  timeout_ms: 120\nbatcher:\n  batch_size: 8\n")
    assert read_source(nested) == {"gateway.timeout_ms": 120, "batcher.batch_size": 8}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert read_source(empty) == {}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{not json", "cannot parse"),
        ("list.yaml", "- 1\n- 2\n", "mapping"),
        ("bad.yaml", "a: [1,\n", "cannot parse"),
    ],
)
def test_read_source_errors_are_source_errors(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ParamSourceError, match=message):
        read_source(path)


def test_read_source_missing(tmp_path: Path) -> None:
    with pytest.raises(ParamSourceError, match="not found"):
        read_source(tmp_path / "nope.json")


def test_oversized_key_file_is_rejected_per_key(tmp_path: Path) -> None:
    (tmp_path / "gateway.timeout_ms").write_text("1" * 5000)
    (tmp_path / "gateway.retries").write_text("2")
    result = merge(Params(), read_source(tmp_path))
    assert result.params.gateway_retries == 2
    assert "gateway.timeout_ms" in result.rejected


def test_fingerprint_changes_on_every_configmap_update(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    assert fingerprint(mount) == ("missing",)
    project_configmap(mount, {"gateway.timeout_ms": 300})
    first = fingerprint(mount)
    assert fingerprint(mount) == first  # stable while nothing changes
    # Same size, same key: only the ..data swap distinguishes the two versions.
    project_configmap(mount, {"gateway.timeout_ms": 400})
    second = fingerprint(mount)
    assert second != first
    project_configmap(mount, {"gateway.timeout_ms": 400, "gateway.retries": 2})
    assert fingerprint(mount) != second


def test_project_configmap_removes_dropped_keys_and_old_payloads(tmp_path: Path) -> None:
    mount = tmp_path / "params"
    project_configmap(mount, {"a.x": 1, "b.y": 2.0})
    project_configmap(mount, {"a.x": 3})
    names = sorted(p.name for p in mount.iterdir())
    payloads = [n for n in names if n.startswith("..") and n != "..data"]
    assert len(payloads) == 1
    assert [n for n in names if not n.startswith("..")] == ["a.x"]
    assert read_source(mount) == {"a.x": "3"}
    with pytest.raises(ValueError, match="invalid ConfigMap key"):
        project_configmap(mount, {"../etc": 1})
