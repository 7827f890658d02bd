"""Expiring counters: in this process by default, in Redis when ``WALLET_REDIS_URL`` is set.

Expiry here is housekeeping only. What a counter means in time (which window it counts,
until when an account is locked) is decided by the caller from the injected clock and
written into the key or the value, so the limits follow ``ManualClock`` in tests and agree
across processes whatever Redis's own clock says.
"""

from __future__ import annotations

import itertools
from typing import Protocol

from wallet_service.clock import Clock

__all__ = ["Counters", "CountersUnavailable", "MemoryCounters", "RedisCounters", "counters_for"]


class CountersUnavailable(Exception):
    """The shared counters (Redis) cannot be reached."""


class Counters(Protocol):
    async def increment(self, key: str, ttl_seconds: float) -> int:
        """Add one to ``key`` (created at 0, expiring after ``ttl_seconds``); the new value."""
        ...

    async def read(self, key: str) -> int: ...

    async def write(self, key: str, value: int, ttl_seconds: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def clear(self) -> None:
        """Forget every counter (tests; a fresh start)."""
        ...

    async def close(self) -> None: ...


class MemoryCounters:
    """Counters in a dict, expired by the injected clock and bounded in size.

    The bound matters: an attacker rotating addresses (one IPv6 /64 holds billions) must not
    grow it without end. Past ``max_keys``, expired counters go first, then the oldest.
    """

    def __init__(self, clock: Clock, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._values: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _live(self, key: str, now: float) -> int | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._values[key]
            return None
        return entry[0]

    def _make_room(self, now: float) -> None:
        if len(self._values) < self._max_keys:
            return
        # In one sweep, then not again for a tenth of the capacity: a full scan on every new
        # key would hand a flood of fresh keys the event loop.
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
        excess = len(self._values) - (self._max_keys - self._max_keys // 10)
        for key in list(itertools.islice(self._values, max(0, excess))):  # the oldest first
            del self._values[key]

    async def increment(self, key: str, ttl_seconds: float) -> int:
        now = self._now()
        current = self._live(key, now)
        if current is None:
            self._make_room(now)
            self._values[key] = (1, now + ttl_seconds)
            return 1
        self._values[key] = (current + 1, self._values[key][1])
        return current + 1

    async def read(self, key: str) -> int:
        return self._live(key, self._now()) or 0

    async def write(self, key: str, value: int, ttl_seconds: float) -> None:
        now = self._now()
        if key not in self._values:
            self._make_room(now)
        self._values[key] = (value, now + ttl_seconds)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def clear(self) -> None:
        self._values.clear()

    async def close(self) -> None:
        return None


class RedisCounters:
    """Counters in Redis, shared by every API process and replica."""

    def __init__(self, url: str, prefix: str = "wallet:limits:") -> None:
        import redis.asyncio  # imported here: only deployments that set WALLET_REDIS_URL need it
        import redis.exceptions

        self._redis = redis.asyncio.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._prefix = prefix
        self._errors: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)

    async def increment(self, key: str, ttl_seconds: float) -> int:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(self._prefix + key)
                # NX (Redis >= 7): the first hit sets the expiry; later ones must not push it.
                pipe.expire(self._prefix + key, max(1, round(ttl_seconds)), nx=True)
                value, _ = await pipe.execute()
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc
        return int(value)

    async def read(self, key: str) -> int:
        try:
            value = await self._redis.get(self._prefix + key)
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc
        return int(value) if value is not None else 0

    async def write(self, key: str, value: int, ttl_seconds: float) -> None:
        try:
            await self._redis.set(self._prefix + key, value, ex=max(1, round(ttl_seconds)))
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def delete(self, *keys: str) -> None:
        try:
            if keys:
                await self._redis.delete(*(self._prefix + key for key in keys))
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def clear(self) -> None:
        try:
            async for key in self._redis.scan_iter(match=self._prefix + "*", count=1000):
                await self._redis.delete(key)
        except self._errors as exc:
            raise CountersUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._redis.aclose()


def counters_for(
    redis_url: str | None, clock: Clock, *, prefix: str = "wallet:limits:"
) -> Counters:
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters(clock)
