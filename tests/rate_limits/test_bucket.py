"""Google's request rate is kept by a token bucket: requests are spaced at the configured
rate, every process draws on the same bucket through Redis, and Redis down lets requests
through rather than stopping the cards. Time is the test clock's; nothing really sleeps."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from tests.sleeping import ClockSleep
from wallet_service.clock import ManualClock
from wallet_service.rate_limits.bucket import (
    MemoryTokenBucket,
    RedisTokenBucket,
    Throttle,
    TokenBucket,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def _prefix() -> str:
    return f"wallet:test:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
async def bucket(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[TokenBucket]:
    made: TokenBucket = (
        MemoryTokenBucket(clock)
        if request.param == "memory"
        else RedisTokenBucket(REDIS_URL, clock, prefix=_prefix())
    )
    try:
        yield made
    finally:
        await made.close()


async def _request_times(throttle: Throttle, clock: ManualClock, count: int) -> list[datetime]:
    times = []
    for _ in range(count):
        await throttle.acquire("google:issuer")
        times.append(clock.now())
    return times


def _gaps(times: list[datetime]) -> list[float]:
    return [round((later - earlier).total_seconds(), 3) for earlier, later in pairwise(times)]


async def test_requests_are_spaced_at_the_configured_rate(
    bucket: TokenBucket, clock: ManualClock
) -> None:
    sleep = ClockSleep(clock)
    throttle = Throttle(bucket, rate=20, sleep=sleep)

    times = await _request_times(throttle, clock, 6)

    assert _gaps(times) == [0.05] * 5
    assert len(sleep.waits) == 5  # the first went at once


async def test_a_burst_goes_at_once_then_requests_are_paced(
    bucket: TokenBucket, clock: ManualClock
) -> None:
    throttle = Throttle(bucket, rate=10, burst=3, sleep=ClockSleep(clock))

    times = await _request_times(throttle, clock, 5)

    assert _gaps(times) == [0.0, 0.0, 0.1, 0.1]


async def test_an_idle_bucket_refills_and_lets_the_next_request_through_at_once(
    bucket: TokenBucket, clock: ManualClock
) -> None:
    sleep = ClockSleep(clock)
    throttle = Throttle(bucket, rate=20, sleep=sleep)
    await _request_times(throttle, clock, 3)
    waited = len(sleep.waits)

    clock.advance(timedelta(seconds=1))
    await throttle.acquire("google:issuer")
    await throttle.acquire("google:another-issuer")  # each issuer has its own quota

    assert len(sleep.waits) == waited


async def test_two_buckets_on_the_same_redis_share_one_rate(clock: ManualClock) -> None:
    prefix = _prefix()
    first = RedisTokenBucket(REDIS_URL, clock, prefix=prefix)
    second = RedisTokenBucket(REDIS_URL, clock, prefix=prefix)
    try:
        # Four processes' requests at the same instant: each is told to wait its turn.
        waits = [
            await bucket.take("google:issuer", rate=20, burst=1)
            for bucket in (first, second, first, second)
        ]
    finally:
        await first.close()
        await second.close()

    assert [round(wait, 3) for wait in waits] == [0.0, 0.05, 0.1, 0.15]


async def test_a_redis_outage_lets_requests_through_and_is_logged(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    down = RedisTokenBucket("redis://127.0.0.1:1/0", clock)
    sleep = ClockSleep(clock)
    throttle = Throttle(down, rate=20, sleep=sleep)
    try:
        with caplog.at_level(logging.WARNING, logger="wallet_service.rate_limits.bucket"):
            for _ in range(3):
                await throttle.acquire("google:issuer")
    finally:
        await down.close()

    assert sleep.waits == []
    assert "not paced" in caplog.text


def test_a_throttle_needs_a_positive_rate(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Throttle(MemoryTokenBucket(clock), rate=0)
