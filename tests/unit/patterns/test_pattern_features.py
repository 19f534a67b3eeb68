"""Feature extraction: names, scaling (no saturation), graph shape, spec features."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from upir.core import UPIR
from upir.core.architecture import Architecture, Component, Connection
from upir.patterns.builtin import bulkhead, pubsub_fanout, request_response
from upir.patterns.features import (
    FEATURE_INDEX,
    FEATURE_NAMES,
    FEATURES,
    extract_features,
    feature_map,
    levels,
    longest_path,
)


def _chain(n: int, kind: str = "service") -> dict[str, Any]:
    comps = [{"name": f"c{i}", "type": kind, "params": {}} for i in range(n)]
    conns = [{"from": f"c{i}", "to": f"c{i + 1}"} for i in range(n - 1)]
    return {
        "apiVersion": "upir.dev/v1alpha1",
        "kind": "UPIR",
        "metadata": {"name": "chain"},
        "spec": {"architecture": {"components": comps, "connections": conns}},
    }


def test_vector_matches_names_and_is_finite() -> None:
    u = UPIR.from_resource(request_response())
    x = extract_features(u)
    assert x.shape == (len(FEATURE_NAMES),)
    assert x.dtype == np.float64
    assert np.all(np.isfinite(x))
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    fmap = feature_map(u)
    assert [fmap[n] for n in FEATURE_NAMES] == x.tolist()


def test_counts_do_not_saturate() -> None:
    # The reference implementation clipped counts at 1: 10 and 40 components
    # looked the same. Ours keep growing (log1p), and shares stay in [0, 1].
    small = feature_map(UPIR.from_resource(_chain(10)))
    large = feature_map(UPIR.from_resource(_chain(40)))
    assert large["components"] == pytest.approx(math.log1p(40))
    assert large["components"] - small["components"] > 1.0
    assert large["depth"] > small["depth"] > 1.0
    for fmap in (small, large):
        for name in FEATURE_NAMES:
            if name.startswith("share.") or name in ("branching", "joining"):
                assert 0.0 <= fmap[name] <= 1.0


def test_type_counts_and_shares() -> None:
    f = feature_map(UPIR.from_resource(bulkhead(pools=3)))
    # gateway + 3 pool queues + 3 worker services
    assert f["count.service"] == pytest.approx(math.log1p(4))
    assert f["count.queue"] == pytest.approx(math.log1p(3))
    assert f["count.batcher"] == 0.0
    assert f["share.service"] == pytest.approx(4 / 7)
    assert f["share.queue"] == pytest.approx(3 / 7)


def test_graph_shape() -> None:
    f = feature_map(UPIR.from_resource(pubsub_fanout(subscribers=4)))
    assert f["depth"] == pytest.approx(math.log1p(3))  # publisher -> topic -> sub
    assert f["max_fan_out"] == pytest.approx(math.log1p(4))
    assert f["max_fan_in"] == pytest.approx(math.log1p(1))
    assert f["entry_points"] == pytest.approx(math.log1p(1))
    assert f["exit_points"] == pytest.approx(math.log1p(4))
    assert f["branching"] == pytest.approx(1 / 6)
    assert f["joining"] == 0.0
    assert f["has_cycle"] == 0.0


def test_cycle_depth_and_levels_on_a_hand_built_graph() -> None:
    # The loader rejects cycles, but features must not hang or crash on one.
    comps = tuple(Component(n, "service") for n in "abcd")
    arch = Architecture(
        comps,
        (Connection("a", "b"), Connection("b", "c"), Connection("c", "b"), Connection("c", "d")),
    )
    assert longest_path(arch) == 4
    lv = levels(arch)
    assert lv["a"] == 0 and lv["b"] == lv["c"] == 1 and lv["d"] == 2
    u = replace(UPIR.from_resource(_chain(1)), architecture=arch)
    assert feature_map(u)["has_cycle"] == 1.0


def test_parameters_are_log_scaled_means_with_defaults_for_absent_types() -> None:
    u = UPIR.from_resource(request_response())
    f = feature_map(u)
    # api timeout 300, backend 100
    assert f["param.service.timeout_ms"] == pytest.approx((math.log1p(300) + math.log1p(100)) / 2)
    assert f["param.service.retries"] == pytest.approx((math.log1p(2) + math.log1p(1)) / 2)
    # no queue: the catalogue default capacity (1000) stands in
    assert f["param.queue.capacity"] == pytest.approx(math.log1p(1000))


def test_spec_features() -> None:
    f = feature_map(UPIR.from_resource(request_response()))
    # invariant retry_budget (ALWAYS), responds (WITHIN), backend_bounded (ALWAYS)
    assert f["op.ALWAYS"] == pytest.approx(math.log1p(2))
    assert f["op.WITHIN"] == pytest.approx(math.log1p(1))
    assert f["op.UNTIL"] == 0.0
    assert f["invariants"] == pytest.approx(math.log1p(1))
    assert f["constraint.availability"] == 1.0
    assert f["constraint.cost"] == 0.0
    assert f["system.api"] == 1.0 and f["system.batch"] == 0.0
    # api.latency_ms and backend.latency_ms; api.timeout_ms and api.retries
    assert f["subject.latency"] == pytest.approx(math.log1p(2))
    assert f["subject.parameter"] == pytest.approx(math.log1p(2))


def test_every_feature_has_a_positive_tolerance_and_a_known_kind() -> None:
    for spec in FEATURES:
        assert spec.tolerance > 0
        assert spec.kind in ("log1p", "share", "flag")
        assert FEATURE_INDEX[spec.name] == FEATURE_NAMES.index(spec.name)
    log_spec = FEATURES[FEATURE_INDEX["components"]]
    assert log_spec.raw(math.log1p(7)) == pytest.approx(7)
