"""Fixed-window rate limits on the injected clock.

Not the ``limits`` package: its in-memory storage and its moving windows read the machine's
clock and Redis's, which the injected clock cannot move, so tests would have
to sleep and the awkward-date runs could not reach it. What we need is three small
operations on shared counters (:mod:`.counters`), written here in a few lines instead.

A fixed window lets a client burst up to twice the limit across a window boundary; for
brute-force and flood protection that is an acceptable price for one counter per key.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from wallet_service.clock import Clock
from wallet_service.errors import TooManyRequests
from wallet_service.rate_limits.counters import Counters, CountersUnavailable

__all__ = ["Rate", "RateLimiter"]

logger = logging.getLogger(__name__)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` requests per ``period_seconds``; written ``"20/minute"``."""

    limit: int
    period_seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if match is None or int(match[1]) < 1 or int(match[2] or 1) < 1:
            raise ValueError(f"{text!r} is not a rate such as '20/minute' or '100/5minutes'")
        return cls(int(match[1]), int(match[2] or 1) * _UNITS[match[3]])

    def __str__(self) -> str:
        return f"{self.limit}/{self.period_seconds}seconds"


class RateLimiter:
    """Counts requests per (policy, key) and refuses those over the rate with a 429."""

    def __init__(self, counters: Counters, clock: Clock, *, enabled: bool = True) -> None:
        self.counters = counters
        self._clock = clock
        self.enabled = enabled

    async def hit(self, policy: str, key: str, rate: Rate) -> None:
        """Count one request; ``TooManyRequests`` (with Retry-After) when over ``rate``."""
        if not self.enabled:
            return
        now = self._clock.now().timestamp()
        window = math.floor(now / rate.period_seconds)
        try:
            count = await self.counters.increment(
                f"rate:{policy}:{key}:{window}", ttl_seconds=2 * rate.period_seconds
            )
        except CountersUnavailable:
            # Open, not closed: Redis down must not stop every till. Logged, so it is seen.
            logger.warning("rate limit %s not counted: the shared counters are unreachable", policy)
            return
        if count > rate.limit:
            retry_after = math.ceil((window + 1) * rate.period_seconds - now)
            raise TooManyRequests(
                f"Too many requests; retry in {retry_after} s.", retry_after=retry_after
            )
