"""Load generator: target checks, rate profiles, arrivals and result summaries (no network)."""

from __future__ import annotations

from collections import Counter

import pytest
from refworkload.loadgen import (
    LoadGenError,
    LoadResult,
    arrival_times,
    check_target,
    main,
    rate_at,
    run_load,
)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/work", "http://localhost/work", "http://[::1]:9/x", "http://127.8.0.1"],
)
def test_loopback_targets_are_allowed(url: str) -> None:
    check_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/work",
        "http://example.com/",
        "http://127.0.0.1.nip.io/",
        "http://[2001:db8::1]/",
    ],
)
def test_non_loopback_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(LoadGenError, match="non-loopback"):
        check_target(url)
    check_target(url, allow_non_loopback=True)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8080", "http:///path"])
def test_non_http_targets_are_refused(url: str) -> None:
    with pytest.raises(LoadGenError, match="not an http"):
        check_target(url, allow_non_loopback=True)


def test_rate_profiles() -> None:
    assert rate_at("steady", 100, 3, 9.0, 10) == 100
    assert rate_at("shift", 100, 3, 4.9, 10) == 100
    assert rate_at("shift", 100, 3, 5.0, 10) == 300
    assert rate_at("ramp", 100, 3, 0.0, 10) == 100
    assert rate_at("ramp", 100, 3, 5.0, 10) == pytest.approx(200)
    assert rate_at("ramp", 100, 3, 10.0, 10) == pytest.approx(300)
    with pytest.raises(LoadGenError):
        rate_at("spiky", 1, 1, 0, 1)  # type: ignore[arg-type]


def test_arrivals_are_seeded_poisson_and_follow_the_profile() -> None:
    steady = arrival_times("steady", 200, 2, 10.0, seed=1, limit=100_000)
    assert steady == arrival_times("steady", 200, 2, 10.0, seed=1, limit=100_000)
    assert steady != arrival_times("steady", 200, 2, 10.0, seed=2, limit=100_000)
    assert 1800 < len(steady) < 2200  # 2000 expected; sd ~45
    assert steady == sorted(steady) and 0 < steady[0] and steady[-1] < 10.0
    shift = arrival_times("shift", 100, 3, 10.0, seed=3, limit=100_000)
    halves = Counter(t >= 5.0 for t in shift)
    assert 400 < halves[False] < 600  # 500 expected
    assert 1300 < halves[True] < 1700  # 1500 expected
    ramp = arrival_times("ramp", 100, 3, 10.0, seed=4, limit=100_000)
    first, last = sum(t < 2 for t in ramp), sum(t >= 8 for t in ramp)
    assert last > 2 * first  # ~240 vs ~560


def test_arrivals_respect_the_count_limit() -> None:
    assert len(arrival_times("steady", 1000, 1, 60.0, seed=0, limit=50)) == 50


def test_result_summary_and_percentiles() -> None:
    result = LoadResult(profile="steady", planned=5, sent=5)
    result.status.update({200: 3, 504: 1})
    result.client_timeouts = 1
    result.latencies_ms = [10.0, 20.0, 30.0, 40.0]
    result.elapsed_s = 2.0
    assert result.ok == 3 and result.answered == 4
    assert result.error_fraction == pytest.approx(0.4)
    assert result.percentile_ms(0.5) == 20.0
    assert result.percentile_ms(0.99) == 40.0
    assert result.achieved_rps == 2.5
    summary = result.summary()
    assert "200:3" in summary and "504:1" in summary and "p99=40.0ms" in summary
    assert LoadResult(profile="steady", planned=0).percentile_ms(0.5) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rps": 0, "duration_s": 1},
        {"rps": 20_000, "duration_s": 1},
        {"rps": 10, "duration_s": 0},
        {"rps": 10, "duration_s": 1e6},
        {"rps": 6000, "duration_s": 1, "factor": 2.0},
        {"rps": 10, "duration_s": 1, "max_requests": 0},
        {"rps": 10, "duration_s": 1, "method": "DELETE"},
        {"rps": 10, "duration_s": 1, "profile": "spiky"},
    ],
)
async def test_run_load_rejects_out_of_bounds_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(LoadGenError):
        await run_load("http://127.0.0.1:9/work", **kwargs)  # type: ignore[arg-type]


def test_cli_refuses_a_remote_target(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--url", "http://192.0.2.10/work", "--rps", "5", "--duration", "1"])
    assert code == 2
    assert "non-loopback" in capsys.readouterr().err
