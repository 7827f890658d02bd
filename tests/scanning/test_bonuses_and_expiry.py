"""Bonuses and expiry as members live them: referral after the first purchase, birthdays and
expiring points settled by the worker, each exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, make_tenant
from wallet_service.clock import ManualClock
from wallet_service.db.models import Member
from wallet_service.db.session import session_scope
from wallet_service.worker import run_loyalty_jobs

RULES: dict[str, Any] = {
    "version": 1,
    "currency": "EUR",
    "timezone": "Europe/Paris",
    "earn": {"points_per_currency_unit": "10"},
    "tiers": [{"code": "member", "name": "Member"}],
    "expiry": {"months": 1},
    "bonuses": {
        "birthday": {"points": 200, "timing": "month"},
        "referral": {
            "referrer_points": 300,
            "referee_points": 150,
            "minimum_first_purchase": "5.00",
        },
    },
}


async def _enrol(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members", json=fields, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


async def _scan(
    client: httpx.AsyncClient, tenant: Tenant, serial: str, amount: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/scans",
        json={"barcode": tenant.barcode(serial), "amount": {"value": amount, "currency": "EUR"}},
        headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _balance(factory: async_sessionmaker[AsyncSession], member_id: str) -> int:
    async with session_scope(factory) as session:
        member = await session.get(Member, uuid.UUID(member_id))
        assert member is not None
        return member.points_balance


async def test_referral_pays_both_sides_after_the_first_qualifying_purchase_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    referrer = await _enrol(client, tenant, given_name="Ana")
    referee = await _enrol(client, tenant, given_name="Ben", referred_by=referrer["id"])
    small = await _scan(client, tenant, referee["serial_number"], "2")  # below the minimum
    assert small["member"]["points_balance"] == 20
    assert await _balance(session_factory, referrer["id"]) == 0
    first = await _scan(client, tenant, referee["serial_number"], "6")
    assert first["member"]["points_balance"] == 20 + 60 + 150
    assert await _balance(session_factory, referrer["id"]) == 300
    await _scan(client, tenant, referee["serial_number"], "6")
    assert await _balance(session_factory, referrer["id"]) == 300


async def test_referrer_must_exist_in_the_same_program(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(session_factory, client, rules=RULES)
    response = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"referred_by": str(uuid.uuid4())},
        headers=tenant.headers(),
    )
    assert response.status_code == 404 and response.json()["code"] == "member_not_found"


# Month ends, a leap day and the year's end: "one month later" and the local month are
# where date arithmetic goes wrong.
AWKWARD_DATES = [
    datetime(2027, 1, 31, 10, tzinfo=UTC),
    datetime(2028, 2, 29, 10, tzinfo=UTC),
    datetime(2027, 6, 30, 10, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 15, tzinfo=UTC),  # already 1 January in Paris
]


@pytest.mark.parametrize("start", AWKWARD_DATES, ids=lambda d: d.date().isoformat())
async def test_worker_expires_points_after_their_lifetime_oldest_first(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    start: datetime,
) -> None:
    clock.set(start)
    tenant = await make_tenant(session_factory, client, rules=RULES)
    member = await _enrol(client, tenant)
    await _scan(client, tenant, member["serial_number"], "10")

    clock.advance(timedelta(days=20))  # a month's lifetime: due within the next 30 days
    lookup = await client.get(
        "/api/v1/scans/lookup",
        params={"barcode": tenant.barcode(member["serial_number"])},
        headers=tenant.headers(),
    )
    assert lookup.json()["member"]["points_expiring_soon"] == 100

    early = await run_loyalty_jobs(session_factory, start + timedelta(days=20))
    assert early.expiries == 0 and await _balance(session_factory, member["id"]) == 100
    late = await run_loyalty_jobs(session_factory, start + timedelta(days=40))
    assert late.expiries == 1 and await _balance(session_factory, member["id"]) == 0
    again = await run_loyalty_jobs(session_factory, start + timedelta(days=41))
    assert again.expiries == 0


@pytest.mark.parametrize("start", AWKWARD_DATES, ids=lambda d: d.date().isoformat())
async def test_worker_pays_the_birthday_bonus_once_a_year(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    start: datetime,
) -> None:
    clock.set(start)
    tenant = await make_tenant(session_factory, client, rules=RULES)
    today = start.astimezone(ZoneInfo("Europe/Paris"))  # the program's local month decides
    member = await _enrol(client, tenant, birthday=date(1992, today.month, 1).isoformat())
    other = await _enrol(client, tenant, birthday=date(1992, today.month % 12 + 1, 1).isoformat())
    first = await run_loyalty_jobs(session_factory, start)
    second = await run_loyalty_jobs(session_factory, start + timedelta(hours=1))
    assert first.birthday_bonuses == 1 and second.birthday_bonuses == 0
    assert await _balance(session_factory, member["id"]) == 200
    assert await _balance(session_factory, other["id"]) == 0
