"""The worked examples of docs/model.md, checked through both the exact Python
equations (reference) and the Z3 encoding (substituted and simplified)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction as F

import pytest

from upir.core import UPIR
from upir.verification import reference
from upir.verification import z3util as z
from upir.verification.encoder import Unrolling
from upir.verification.structure import Structure

pytestmark = pytest.mark.integration


def z3_trace(
    upir: UPIR, env_trace: Sequence[Mapping[str, F]], names: Sequence[str], step_ms: int = 100
) -> list[dict[str, F]]:
    """Every name at every step, from the Z3 terms with the environment and the
    queue lengths (computed step by step from the encoded transition) substituted."""
    st = Structure(upir.architecture)
    u = Unrolling(st, upir.param_values(), step_ms)
    lengths = {q: F(0) for q in st.of_type("queue")}
    out: list[dict[str, F]] = []
    for t, env in enumerate(env_trace):
        row: dict[str, F] = {}
        terms = {n: u.value(n, t) for n in names}
        nexts = {q: u.next_length(q, t) for q in lengths}
        pairs = [(u.env(k, t), z.num(v)) for k, v in env.items()]
        pairs += [(u.length(q, t), z.num(v)) for q, v in lengths.items()]
        for n, term in terms.items():
            value = z.closed_value(term, pairs)
            assert not isinstance(value, bool)
            row[n] = value
        for q, term in nexts.items():
            value = z.closed_value(term, pairs)
            assert not isinstance(value, bool)
            lengths[q] = value
        out.append(row)
    return out


def both(
    upir: UPIR, env_trace: Sequence[Mapping[str, F]], names: Sequence[str]
) -> list[dict[str, F]]:
    """The values from both implementations, asserting they agree exactly."""
    st = Structure(upir.architecture)
    ref = reference.simulate(st, upir.param_values(), env_trace, F(100))
    enc = z3_trace(upir, env_trace, names)
    for t, row in enumerate(enc):
        for n in names:
            assert row[n] == ref[t][n], f"step {t} {n}: z3 {row[n]} != reference {ref[t][n]}"
    return enc


SERVICE = {
    "name": "svc",
    "type": "service",
    "params": {"replicas": 2, "concurrency": 4, "timeout_ms": 100, "retries": 2},
}
SVC_NAMES = [
    "svc.attempt_ms",
    "svc.availability",
    "svc.call_ms",
    "svc.shed_rps",
    "svc.capacity_rps",
    "svc.utilization",
    "svc.throughput_rps",
    "svc.arrival_rps",
]


LN100 = F(461, 100)


def wait(call: F, slots: int, util: F, ln_q: F = LN100) -> F:
    """docs/model.md section 3.1, by hand."""
    return call * (slots - 1) / slots + ln_q * call / (slots * (1 - util))


def unbounded(upir: UPIR, env: Mapping[str, F]) -> list[str]:
    """The names with no finite bound, by the reference and by Z3 (whose
    ``finite`` guard is false exactly there)."""
    st = Structure(upir.architecture)
    empty = {q: F(0) for q in st.of_type("queue")}
    values = reference.step(st, upir.param_values(), env, empty, F(100)).values
    found = reference.unbounded_names(values)
    u = Unrolling(st, upir.param_values(), 100)
    pairs = [(u.env(k, 0), z.num(v)) for k, v in env.items()]
    pairs += [(u.length(q, 0), z.num(0)) for q in empty]
    for name in [n for n in values if n.endswith(("latency_ms", "wait_ms"))]:
        guard = u.finite(0)(name)
        if guard is not None:
            assert z.closed_value(guard, pairs) is (name not in found), name
    return found


def test_service_example(make_upir) -> None:
    u = make_upir([SERVICE])
    env = {"env.arrival_rps": F(100), "env.svc_service_ms": F(50), "env.svc_failure_rate": F(1, 10)}
    (row,) = both(u, [env], [*SVC_NAMES, "svc.wait_ms", "svc.latency_ms"])
    assert row["svc.attempt_ms"] == 50
    assert row["svc.availability"] == F(999, 1000)
    assert row["svc.call_ms"] == 150
    assert row["svc.shed_rps"] == 0
    assert row["svc.wait_ms"] == wait(F(150), 8, F(111, 160))
    assert row["svc.latency_ms"] == 150 + wait(F(150), 8, F(111, 160))
    assert round(float(row["svc.latency_ms"]), 2) == 563.49
    assert unbounded(u, env) == []
    assert row["svc.capacity_rps"] == F(16000, 111)
    assert row["svc.utilization"] == F(111, 160)
    assert row["svc.throughput_rps"] == 100


def test_service_example_beyond_timeout(make_upir) -> None:
    u = make_upir([SERVICE])
    env = {"env.arrival_rps": F(100), "env.svc_service_ms": F(150), "env.svc_failure_rate": F(0)}
    (row,) = both(u, [env], SVC_NAMES)
    assert row["svc.attempt_ms"] == 100
    assert row["svc.availability"] == 0
    assert row["svc.call_ms"] == 300
    assert row["svc.capacity_rps"] == F(80, 3)
    assert row["svc.throughput_rps"] == F(80, 3)
    # offered 100 rps against 80/3: saturated, the excess is shed
    assert row["svc.shed_rps"] == 100 - F(80, 3)
    assert unbounded(u, env) == ["svc.latency_ms", "svc.wait_ms", "system.latency_ms"]


def test_service_without_failures_has_no_retry_latency(make_upir) -> None:
    u = make_upir([SERVICE])
    env = {"env.arrival_rps": F(10), "env.svc_service_ms": F(30), "env.svc_failure_rate": F(0)}
    (row,) = both(u, [env], [*SVC_NAMES, "svc.latency_ms"])
    assert row["svc.call_ms"] == 30
    assert row["svc.latency_ms"] == 30 + wait(F(30), 8, F(3, 80))
    assert row["svc.availability"] == 1


def test_queue_example(make_upir) -> None:
    u = make_upir([{"name": "q", "type": "queue", "params": {"capacity": 10}}])
    env = {"env.arrival_rps": F(200), "env.q_drain_rps": F(100)}
    names = ["q.length", "q.dropped", "q.wait_ms", "q.throughput_rps"]
    rows = both(u, [env] * 3, names)
    assert [r["q.length"] for r in rows] == [0, 10, 10]
    assert [r["q.dropped"] for r in rows] == [0, 10, 10]
    assert [r["q.wait_ms"] for r in rows] == [0, 100, 100]
    assert [r["q.throughput_rps"] for r in rows] == [100, 100, 100]


@pytest.mark.parametrize(
    ("arrival", "items", "wait"),
    [(F(100), F(5), F(50)), (F(400), F(10), F(45, 2)), (F(0), F(1), F(50))],
)
def test_batcher_example(make_upir, arrival: F, items: F, wait: F) -> None:
    u = make_upir([{"name": "b", "type": "batcher", "params": {"batch_size": 10, "flush_ms": 50}}])
    names = ["b.batch_items", "b.wait_ms", "b.latency_ms", "b.throughput_rps"]
    (row,) = both(u, [{"env.arrival_rps": arrival}], names)
    assert row["b.batch_items"] == items
    assert row["b.wait_ms"] == row["b.latency_ms"] == wait
    assert row["b.throughput_rps"] == arrival


def test_batch_fed_service_example(make_upir) -> None:
    u = make_upir(
        [
            {"name": "b", "type": "batcher", "params": {"batch_size": 10, "flush_ms": 50}},
            {"name": "s", "type": "service", "params": {"timeout_ms": 1000}},
        ],
        [("b", "s")],
    )
    env = {"env.arrival_rps": F(100), "env.s_service_ms": F(20), "env.s_failure_rate": F(0)}
    (row,) = both(u, [env], ["s.capacity_rps", "s.utilization"])
    assert row["s.capacity_rps"] == 250
    assert row["s.utilization"] == F(2, 5)
    st = Structure(u.architecture)
    un = Unrolling(st, u.param_values(), 100)
    accept = un.accept("s", 0)
    assert accept is not None
    pairs = [(un.env(k, 0), z.num(v)) for k, v in env.items()]
    assert z.closed_value(accept, pairs) == 500


def test_system_example(make_upir) -> None:
    u = make_upir(
        [
            {
                "name": "gateway",
                "type": "service",
                "params": {"replicas": 3, "concurrency": 8, "timeout_ms": 300, "retries": 2},
            },
            {"name": "orders", "type": "queue", "params": {"capacity": 5000}},
            {
                "name": "fulfil",
                "type": "service",
                "params": {"replicas": 4, "concurrency": 16, "timeout_ms": 200, "retries": 1},
            },
        ],
        [("gateway", "orders"), ("orders", "fulfil")],
    )
    env = {
        "env.arrival_rps": F(600),
        "env.gateway_service_ms": F(40),
        "env.gateway_failure_rate": F(1, 100),
        "env.fulfil_service_ms": F(20),
        "env.fulfil_failure_rate": F(1, 100),
    }
    names = [
        "gateway.call_ms",
        "gateway.shed_rps",
        "gateway.availability",
        "gateway.capacity_rps",
        "gateway.throughput_rps",
        "orders.length",
        "orders.wait_ms",
        "orders.dropped",
        "fulfil.latency_ms",
        "fulfil.capacity_rps",
        "system.availability",
        "system.loss",
        "system.cost",
        "system.throughput_rps",
    ]
    rows = both(u, [env] * 2, names)
    cap = F(2000000, 3367)  # the gateway's 24 slots serve 594 rps of the 600 offered
    fulfil_util = cap / F(320000, 101)
    for row in rows:
        assert row["gateway.call_ms"] == 120
        assert row["gateway.capacity_rps"] == cap
        assert row["gateway.throughput_rps"] == cap
        assert row["gateway.shed_rps"] == 600 - cap
        assert row["gateway.availability"] == cap / 600 * (1 - F(1, 100) ** 3)
        assert row["orders.length"] == row["orders.wait_ms"] == row["orders.dropped"] == 0
        assert row["fulfil.latency_ms"] == 40 + wait(F(40), 64, fulfil_util)
        assert row["fulfil.capacity_rps"] == F(320000, 101)
        avail = cap / 600 * (1 - F(1, 100) ** 3) * (1 - F(1, 100) ** 2)
        assert row["system.availability"] == avail
        assert avail == F(989901, 1000000)
        assert row["system.loss"] == 1 - avail
        assert row["system.cost"] == 7
        assert row["system.throughput_rps"] == cap
    assert unbounded(u, env) == ["gateway.latency_ms", "gateway.wait_ms", "system.latency_ms"]


def test_system_example_below_saturation(make_upir) -> None:
    """The same system at 400 rps: every latency is finite, and the system
    latency adds each service's wait at its share of the end-to-end 1%."""
    gateway = {"replicas": 3, "concurrency": 8, "timeout_ms": 300, "retries": 2}
    fulfil = {"replicas": 4, "concurrency": 16, "timeout_ms": 200, "retries": 1}
    u = make_upir(
        [
            {"name": "gateway", "type": "service", "params": gateway},
            {"name": "orders", "type": "queue", "params": {"capacity": 5000}},
            {"name": "fulfil", "type": "service", "params": fulfil},
        ],
        [("gateway", "orders"), ("orders", "fulfil")],
    )
    env = {
        "env.arrival_rps": F(400),
        "env.gateway_service_ms": F(40),
        "env.gateway_failure_rate": F(1, 100),
        "env.fulfil_service_ms": F(20),
        "env.fulfil_failure_rate": F(1, 100),
    }
    names = ["gateway.utilization", "gateway.latency_ms", "fulfil.latency_ms", "system.latency_ms"]
    (row,) = both(u, [env], names)
    g_util = 400 / F(2000000, 3367)
    f_util = 400 / F(320000, 101)
    assert row["gateway.utilization"] == g_util
    assert row["gateway.latency_ms"] == 120 + wait(F(120), 24, g_util)
    assert row["fulfil.latency_ms"] == 40 + wait(F(40), 64, f_util)
    ln200 = F(5300, 1000)  # (ceil(1000 ln 200) + 1) / 1000: two services
    system = 120 + wait(F(120), 24, g_util, ln200) + 40 + wait(F(40), 64, f_util, ln200)
    assert row["system.latency_ms"] == system
    assert unbounded(u, env) == []


def test_fan_out_and_join(make_upir) -> None:
    """Each connection carries the full output; a join receives the sum; the
    longest path and the weakest path decide latency and availability."""
    svc = {"type": "service", "params": {"timeout_ms": 1000, "replicas": 100}}
    u = make_upir(
        [{"name": "a", **svc}, {"name": "b", **svc}, {"name": "c", **svc}, {"name": "d", **svc}],
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    )
    env: dict[str, F] = {"env.arrival_rps": F(10)}
    for n, ms, fail in (("a", 10, 0), ("b", 30, F(1, 2)), ("c", 50, 0), ("d", 5, 0)):
        env[f"env.{n}_service_ms"] = F(ms)
        env[f"env.{n}_failure_rate"] = F(fail)
    (row,) = both(
        u,
        [env],
        ["d.arrival_rps", "system.latency_ms", "system.availability", "system.throughput_rps"],
    )
    assert row["d.arrival_rps"] == 20
    # the longest path a -> c -> d, each at its share (1/400) of the 1%
    ln400 = F(5993, 1000)
    lat = [
        ms + wait(F(ms), 100, F(rps * ms, 100_000), ln400)
        for ms, rps in ((10, 10), (50, 10), (5, 20))
    ]
    assert row["system.latency_ms"] == sum(lat)
    assert row["system.availability"] == F(1, 2)
    assert row["system.throughput_rps"] == 20


def test_a_fork_needs_every_copy(make_upir) -> None:
    """A request sent down two branches succeeds only when both copies do
    (the simulator's rule): availability multiplies across the branches, and a
    join sees two copies (model 1 took the weakest path instead)."""
    svc = {"type": "service", "params": {"timeout_ms": 1000, "replicas": 100}}
    u = make_upir(
        [{"name": "a", **svc}, {"name": "b", **svc}, {"name": "c", **svc}, {"name": "d", **svc}],
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    )
    env: dict[str, F] = {"env.arrival_rps": F(10)}
    for n, fail in (("a", 0), ("b", F(1, 10)), ("c", F(1, 10)), ("d", F(1, 5))):
        env[f"env.{n}_service_ms"] = F(10)
        env[f"env.{n}_failure_rate"] = F(fail)
    (row,) = both(u, [env], ["system.availability", "system.loss"])
    assert row["system.availability"] == F(9, 10) * F(9, 10) * F(4, 5) ** 2
    assert row["system.loss"] == 1 - row["system.availability"]
