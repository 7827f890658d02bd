"""The injected clock: the only source of "now" for the app, the worker and the CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.clock import TICK, ManualClock, SystemClock
from wallet_service.db.models import Member
from wallet_service.db.session import session_scope
from wallet_service.security.principal import MerchantScope

LEAP_DAY = datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)


def test_a_manual_clock_stays_put_until_advanced_and_never_repeats_an_instant() -> None:
    clock = ManualClock(LEAP_DAY)
    first, second = clock.now(), clock.now()
    assert first == LEAP_DAY and second == LEAP_DAY + TICK
    clock.advance(timedelta(seconds=1))
    assert clock.now().date().isoformat() == "2028-03-01"


def test_a_clock_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2028, 2, 29))  # naive: the point of the test


def test_the_system_clock_answers_in_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


async def test_rows_are_stamped_with_the_app_clock_not_the_machine_s(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    clock.set(LEAP_DAY)
    tenant = await make_tenant(session_factory, client)
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Léa"},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["created_at"].startswith("2028-02-29T23:59:59")
    async with session_scope(session_factory) as session:
        member = await session.get(Member, uuid.UUID(response.json()["id"]))
        assert member is not None
        assert member.pass_updated_at.date().isoformat() == "2028-02-29"


def test_a_merchant_scope_is_only_built_by_its_named_constructors() -> None:
    merchant_id = uuid.uuid4()
    with pytest.raises(TypeError, match="of_credential"):
        MerchantScope(merchant_id)
    scopes = {
        MerchantScope.of_credential(merchant_id),
        MerchantScope.of_pass_holder(merchant_id),
        MerchantScope.for_operator(merchant_id),
    }
    assert len(scopes) == 1  # one merchant, however the right to act for it was proven
