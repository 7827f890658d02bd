"""Rate limits and sign-in lockout: floods get 429 with Retry-After, owners keep their access."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import PASSWORD, AppWith, client_at, make_tenant
from wallet_service.clock import ManualClock
from wallet_service.rate_limits.counters import MemoryCounters, RedisCounters
from wallet_service.rate_limits.limiter import Rate, RateLimiter
from wallet_service.rate_limits.lockout import FREE_FAILURES, LoginLockout
from wallet_service.security.permissions import Role

REDIS_URL = "redis://127.0.0.1:6379/0"


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": email, "password": password})


async def test_sign_ins_from_one_address_past_the_limit_get_429_with_retry_after(
    app_with: AppWith, clock: ManualClock
) -> None:
    async with app_with(rate_limit_login="3/minute") as app, client_at(app, "192.0.2.1") as http:
        statuses = [
            (await login(http, f"nobody{i}@example.com", "wrong password")).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        refused = await login(http, "nobody@example.com", "wrong password")
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60

        async with client_at(app, "192.0.2.2") as elsewhere:
            assert (await login(elsewhere, "nobody@example.com", "wrong")).status_code == 401
        clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
        assert (await login(http, "nobody@example.com", "wrong password")).status_code == 401


async def test_repeated_wrong_passwords_lock_the_address_out_for_longer_and_longer(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    async with app_with() as app, client_at(app, "192.0.2.10") as http:
        tenant = await make_tenant(session_factory, http)
        owner = tenant.emails[Role.owner]
        for _ in range(FREE_FAILURES):
            assert (await login(http, owner, "not the password")).status_code == 401

        locked = await login(http, owner, PASSWORD)  # even the right password waits
        assert locked.status_code == 429
        assert locked.json()["code"] == "login_locked"
        assert locked.headers["retry-after"] == "30"

        clock.advance(timedelta(seconds=30))
        assert (await login(http, owner, "still not it")).status_code == 401
        assert (await login(http, owner, PASSWORD)).headers["retry-after"] == "60"

        clock.advance(timedelta(seconds=60))
        assert (await login(http, owner, PASSWORD)).status_code == 200
        # A success clears the count: the next mistake is a plain 401 again.
        assert (await login(http, owner, "typo")).status_code == 401


async def test_an_attacker_elsewhere_cannot_lock_the_owner_out(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with (
        app_with() as app,
        client_at(app, "203.0.113.66") as attacker,
        client_at(app, "198.51.100.7") as till,
    ):
        tenant = await make_tenant(session_factory, till)
        owner = tenant.emails[Role.owner]
        answers = [(await login(attacker, owner, f"guess {i}")).status_code for i in range(12)]
        assert answers[:FREE_FAILURES] == [401] * FREE_FAILURES
        assert set(answers[FREE_FAILURES:]) == {429}

        assert (await login(till, owner, PASSWORD)).status_code == 200


async def test_a_guess_spread_over_many_addresses_is_capped_per_account_except_known_ones(
    clock: ManualClock,
) -> None:
    lockout = LoginLockout(MemoryCounters(clock), clock, account_failures_per_hour=10)
    await lockout.succeeded("owner@shop.example", "198.51.100.7")  # the owner's till
    for i in range(10):
        await lockout.check("owner@shop.example", f"203.0.113.{i}")
        await lockout.failed("owner@shop.example", f"203.0.113.{i}")

    with pytest.raises(Exception, match="Too many failed sign-ins to this account") as raised:
        await lockout.check("owner@shop.example", "203.0.113.200")
    assert getattr(raised.value, "code", None) == "login_locked"
    await lockout.check("owner@shop.example", "198.51.100.7")  # the known till still may
    await lockout.check("someone.else@shop.example", "203.0.113.200")  # other accounts too

    clock.advance(timedelta(hours=1))
    await lockout.check("owner@shop.example", "203.0.113.200")


async def test_a_pos_key_past_its_scan_rate_gets_429_and_other_keys_are_unaffected(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    async with app_with(rate_limit_scans="3/minute") as app, client_at(app, "10.0.0.1") as http:
        tenant = await make_tenant(session_factory, http)
        other = await make_tenant(session_factory, http, "Other")

        async def lookup(headers: dict[str, str]) -> int:
            answer = await http.get(
                "/api/v1/scans/lookup", params={"barcode": "no-such-card"}, headers=headers
            )
            return answer.status_code

        assert [await lookup(tenant.headers()) for _ in range(4)][-1] == 429
        assert await lookup(other.headers()) != 429
        clock.advance(timedelta(minutes=1))
        assert await lookup(tenant.headers()) != 429


async def test_passkit_calls_and_device_logs_are_limited_per_address(
    app_with: AppWith,
) -> None:
    async with (
        app_with(rate_limit_passkit="3/minute", rate_limit_pass_log="2/minute") as app,
        client_at(app, "192.0.2.50") as phone,
        client_at(app, "192.0.2.51") as another_phone,
    ):
        logs = [
            (await phone.post("/passkit/v1/log", json={"logs": ["hello"]})).status_code
            for _ in range(3)
        ]
        assert logs == [200, 200, 429]
        assert (
            await another_phone.post("/passkit/v1/log", json={"logs": ["x"]})
        ).status_code == 200

        # Three PassKit calls from this address already (the logs): the next is refused.
        serials = "/passkit/v1/devices/device-1/registrations/pass.example"
        assert (await phone.get(serials)).status_code == 429
        assert (await another_phone.get(serials)).status_code != 429


async def test_no_one_can_spend_a_customers_pass_budget_from_elsewhere(
    app_with: AppWith,
) -> None:
    """Limits count per address, never per pass before its token is checked: otherwise a
    stranger hammering one serial number would block the real phone's updates."""
    async with (
        app_with(rate_limit_passkit="5/minute") as app,
        client_at(app, "192.0.2.52") as stranger,
        client_at(app, "192.0.2.53") as owners_phone,
    ):
        victim = "/passkit/v1/passes/pass.example/VICTIM-SERIAL"
        wrong = {"Authorization": "ApplePass not-the-token"}
        answers = [(await stranger.get(victim, headers=wrong)).status_code for _ in range(8)]
        assert 429 in answers
        assert (await owners_phone.get(victim, headers=wrong)).status_code != 429


async def test_the_google_save_hop_is_limited_per_address(app_with: AppWith) -> None:
    async with (
        app_with(rate_limit_google_save="2/minute") as app,
        client_at(app, "192.0.2.60") as phone,
        client_at(app, "192.0.2.61") as another_phone,
    ):
        hop = "/wallet/google/SERIAL123/not-a-token"
        answers = [(await phone.get(hop)).status_code for _ in range(3)]
        assert answers[:2] != [429, 429] and answers[2] == 429
        assert (await another_phone.get(hop)).status_code != 429


async def test_an_ipv6_client_is_counted_by_its_64_prefix(app_with: AppWith) -> None:
    """One subscriber holds a whole /64: rotating through it must not reset the count."""
    async with app_with(rate_limit_pass_log="2/minute") as app:
        answers = []
        for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
            async with client_at(app, host) as phone:
                answers.append(
                    (await phone.post("/passkit/v1/log", json={"logs": ["x"]})).status_code
                )
        assert answers == [200, 200, 429]
        async with client_at(app, "2001:db8:1:3::1") as neighbour:
            assert (
                await neighbour.post("/passkit/v1/log", json={"logs": ["x"]})
            ).status_code == 200


async def test_the_same_email_at_two_merchants_has_two_lockouts(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A success at one merchant must not clear, or mark as known, failures against the same
    email at another: staff emails are unique per merchant only."""
    async with app_with() as app, client_at(app, "192.0.2.90") as http:
        victim = await make_tenant(session_factory, http, "Victim")
        owner = victim.emails[Role.owner]

        async def sign_in(merchant: str, password: str) -> int:
            form = {"username": owner, "password": password, "merchant": merchant}
            return (await http.post("/api/v1/auth/token", data=form)).status_code

        # The attacker's own shop, with a staff account under the victim's email.
        attacker = await make_tenant(session_factory, http, "Attacker")
        twin = await http.post(
            "/api/v1/staff",
            json={"email": owner, "password": "attacker knows this one", "role": "cashier"},
            headers=attacker.headers(Role.owner),
        )
        assert twin.status_code == 201

        for _ in range(FREE_FAILURES - 1):
            assert await sign_in(victim.slug, "guess") == 401
        assert await sign_in(attacker.slug, "attacker knows this one") == 200
        assert await sign_in(victim.slug, "guess") == 401
        assert await sign_in(victim.slug, PASSWORD) == 429  # still locked for the victim


async def test_a_redis_outage_lets_the_tills_through_and_closes_sign_in(
    app_with: AppWith, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with (
        app_with(redis_url="redis://127.0.0.1:1/0", rate_limit_pass_log="1/minute") as app,
        client_at(app, "192.0.2.95") as phone,
    ):
        for _ in range(2):  # counted nowhere: let through
            assert (await phone.post("/passkit/v1/log", json={"logs": ["x"]})).status_code == 200
        refused = await login(phone, "someone@example.com", "whatever password")
        assert refused.status_code == 503
        assert refused.json()["code"] == "sign_in_unavailable"


async def test_disabled_rate_limits_let_everything_through(app_with: AppWith) -> None:
    async with (
        app_with(rate_limits_enabled=False, rate_limit_pass_log="1/minute") as app,
        client_at(app, "192.0.2.70") as phone,
    ):
        for _ in range(3):
            assert (await phone.post("/passkit/v1/log", json={"logs": ["x"]})).status_code == 200


async def test_with_redis_every_process_counts_against_the_same_limit(
    app_with: AppWith,
) -> None:
    async with (
        app_with(redis_url=REDIS_URL, rate_limit_pass_log="2/minute") as first,
        app_with(redis_url=REDIS_URL, rate_limit_pass_log="2/minute") as second,
        client_at(first, "192.0.2.80") as via_first,
        client_at(second, "192.0.2.80") as via_second,
    ):
        assert isinstance(first.state.rate_limiter.counters, RedisCounters)
        assert (await via_first.post("/passkit/v1/log", json={"logs": ["a"]})).status_code == 200
        assert (await via_second.post("/passkit/v1/log", json={"logs": ["b"]})).status_code == 200
        assert (await via_first.post("/passkit/v1/log", json={"logs": ["c"]})).status_code == 429


async def test_redis_counters_follow_the_injected_clock(clock: ManualClock) -> None:
    counters = RedisCounters(REDIS_URL, prefix=f"wallet:test:{uuid.uuid4().hex}:")
    limiter = RateLimiter(counters, clock)
    try:
        await limiter.hit("p", "k", Rate.parse("1/hour"))
        with pytest.raises(Exception, match="Too many requests"):
            await limiter.hit("p", "k", Rate.parse("1/hour"))
        clock.advance(timedelta(hours=1))
        await limiter.hit("p", "k", Rate.parse("1/hour"))
    finally:
        await counters.clear()
        await counters.close()


def test_memory_counters_stay_bounded_under_address_rotation(clock: ManualClock) -> None:
    import asyncio

    counters = MemoryCounters(clock, max_keys=100)

    async def flood() -> None:
        for i in range(1000):
            await counters.increment(f"rate:login:2001:db8::{i}:0", 60)
            assert len(counters._values) <= 100
        # The newest survive the sweeps, the oldest went first.
        assert await counters.read("rate:login:2001:db8::999:0") == 1
        assert await counters.read("rate:login:2001:db8::0:0") == 0

    asyncio.run(flood())


def test_rates_are_written_as_count_per_period() -> None:
    assert Rate.parse("20/minute") == Rate(20, 60)
    assert Rate.parse("100/5minutes") == Rate(100, 300)
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse("0/minute")
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse("lots")
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse("20/0minutes")
