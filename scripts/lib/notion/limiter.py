"""A token bucket shared by every request of a run.

Notion allows an average of 3 requests per second per integration with small
bursts. A bucket of `capacity` tokens refilled at `rate` per second lets a run
start with a short burst and then settle exactly at the average; over any
window of T seconds it sends at most `capacity + rate * T` requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    def __init__(self, rate: float = 3.0, capacity: float = 3.0, *,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    delay = self._paused_until - now
                else:
                    self._refill(now)
                    # The epsilon absorbs float rounding: after sleeping exactly the computed
                    # delay the bucket may hold 0.9999999999 tokens, and a clock that cannot
                    # advance by 1e-16 would otherwise spin here forever.
                    if self._tokens >= 1.0 - 1e-9:
                        self._tokens = max(0.0, self._tokens - 1.0)
                        self.waited_s += waited
                        return waited
                    delay = (1.0 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (a server-side Retry-After), then restart with an empty bucket.

        Starting empty rather than full avoids answering a 429 with an immediate burst.
        """
        if seconds <= 0:
            return
        with self._lock:
            now = self._clock()
            until = now + seconds
            if until > self._paused_until:
                self._paused_until = until
            self._tokens = 0.0
            self._stamp = self._paused_until
