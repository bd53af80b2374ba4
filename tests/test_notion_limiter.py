"""The token bucket: burst, steady rate, pause after a server Retry-After (on a simulated clock)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lib.notion.limiter import TokenBucket


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def grant_times(bucket: TokenBucket, clock: SimClock, count: int, gaps: list[float] | None = None) -> list[float]:
    times = []
    for i in range(count):
        if gaps:
            clock.now += gaps[i % len(gaps)]
        bucket.acquire()
        times.append(clock.now)
    return times


def most_in_window(times: list[float], window: float) -> int:
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t - start <= window + 1e-9))
    return best


def test_a_full_bucket_allows_a_burst_of_capacity_then_the_steady_rate() -> None:
    clock = SimClock()
    bucket = TokenBucket(3, 3, clock=clock, sleep=clock.sleep)
    times = grant_times(bucket, clock, 9)
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0])


def test_the_rate_and_capacity_are_configurable() -> None:
    clock = SimClock()
    bucket = TokenBucket(100, 1, clock=clock, sleep=clock.sleep)
    times = grant_times(bucket, clock, 11)
    assert times[-1] == pytest.approx(0.1)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=50),
    capacity=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=20),
)
def test_no_window_ever_holds_more_than_capacity_plus_rate_times_its_length(
        rate: float, capacity: int, gaps: list[float]) -> None:
    clock = SimClock()
    bucket = TokenBucket(rate, capacity, clock=clock, sleep=clock.sleep)
    times = grant_times(bucket, clock, 60, gaps)
    for window in (0.5, 1.0, 3.0):
        assert most_in_window(times, window) <= capacity + rate * window + 1e-6


def test_pause_holds_every_request_and_restarts_without_a_burst() -> None:
    clock = SimClock()
    bucket = TokenBucket(3, 3, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.pause(2.0)
    times = grant_times(bucket, clock, 3)
    assert times == pytest.approx([2 + 1 / 3, 2 + 2 / 3, 3.0])


def test_an_invalid_rate_or_capacity_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 3)
    with pytest.raises(ValueError):
        TokenBucket(3, 0.5)
