"""Token buckets that pace our calls to a vendor's API: in this process, or in Redis for all.

Google Wallet allows an issuer 20 requests per second, whichever process sends them. A
bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; every request
takes one. Taking never fails: when the bucket is empty the token is *reserved* (the level
goes below zero) and the caller is told how long to wait before using it, so concurrent
callers queue up in order instead of retrying in a herd.

Time comes from the injected clock and travels into Redis as an argument of the script, so
``ManualClock`` drives the Redis bucket too and every process measures the same way. The
Redis bucket is one Lua script, atomic on the server: two processes never take one token.
:class:`Throttle` is what callers use: it takes a token, sleeps through an injectable
``sleep`` when told to wait, and lets the request through (logged) when Redis is down, as
the rate limiter does.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from wallet_service.clock import Clock
from wallet_service.rate_limits.counters import CountersUnavailable

__all__ = [
    "MemoryTokenBucket",
    "RedisTokenBucket",
    "Throttle",
    "TokenBucket",
    "token_bucket_for",
]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class TokenBucket(Protocol):
    async def take(self, key: str, rate: float, burst: int) -> float:
        """Take one token from ``key``'s bucket; the seconds to wait before using it."""
        ...

    async def close(self) -> None: ...


def _refill(tokens: float, since: float, now: float, rate: float, burst: int) -> float:
    # A clock that went back (another process's, or a test's) refills nothing.
    return min(float(burst), tokens + max(0.0, now - since) * rate)


class MemoryTokenBucket:
    """Buckets in a dict: right for the single embedded process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)

    async def take(self, key: str, rate: float, burst: int) -> float:
        now = self._clock.now().timestamp()
        tokens, since = self._buckets.get(key, (float(burst), now))
        tokens = _refill(tokens, since, now, rate, burst) - 1
        self._buckets[key] = (tokens, max(now, since))
        return max(0.0, -tokens / rate)

    async def close(self) -> None:
        return None


# KEYS[1] bucket; ARGV rate, burst, now (seconds, from the caller's clock).
# Returns the wait as a string: Lua numbers become integers on the way back to Redis.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
-- Housekeeping only (a full bucket needs no row); generous, as Redis's clock is not ours.
redis.call('PEXPIRE', KEYS[1], math.ceil(((burst - tokens) / rate + 60) * 1000))
if tokens >= 0 then
  return '0'
end
return tostring(-tokens / rate)
"""


class RedisTokenBucket:
    """Buckets in Redis, shared by every process and replica; errors as ``CountersUnavailable``."""

    def __init__(self, url: str, clock: Clock, prefix: str = "wallet:bucket:") -> None:
        import redis.asyncio  # imported here: only deployments that set WALLET_REDIS_URL need it
        import redis.exceptions

        self._redis = redis.asyncio.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)
        self._script = self._redis.register_script(_TAKE)
        self._clock = clock

    async def take(self, key: str, rate: float, burst: int) -> float:
        now = self._clock.now().timestamp()
        try:
            wait = await self._script(keys=[self._prefix + key], args=[rate, burst, repr(now)])
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc
        return max(0.0, float(wait))

    async def close(self) -> None:
        await self._redis.aclose()


def token_bucket_for(
    redis_url: str | None, clock: Clock, *, prefix: str = "wallet:bucket:"
) -> TokenBucket:
    if redis_url:
        return RedisTokenBucket(redis_url, clock, prefix)
    return MemoryTokenBucket(clock)


@dataclass
class Throttle:
    """At most ``rate`` requests per second per key, in bursts of at most ``burst``.

    ``burst`` defaults to 1, evenly spaced requests: a vendor counting per second then never
    sees more than ``rate`` (plus the one at the boundary), where a full-second burst on top
    of the refill could show it twice the rate across a window's edge.
    """

    bucket: TokenBucket
    rate: float
    burst: int = 1
    sleep: Sleep = field(default=asyncio.sleep, repr=False)

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)) or self.burst < 1:
            raise ValueError("a throttle needs a positive rate and a burst of at least 1")

    async def acquire(self, key: str) -> None:
        """Wait until a request for ``key`` may go out."""
        try:
            wait = await self.bucket.take(key, self.rate, self.burst)
        except CountersUnavailable:
            # Open, not closed: Redis down must not stop the cards. Google answers 429 if we
            # overdo it, and that is retried. Logged, so it is seen.
            logger.warning("request rate for %s not paced: the shared bucket is unreachable", key)
            return
        if wait > 0:
            await self.sleep(wait)

    async def close(self) -> None:
        await self.bucket.close()
