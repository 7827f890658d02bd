"""Program-wide changes and PassKit's update tags."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.apple.apns_standin import ApnsStandIn
from tests.factories import Tenant
from tests.push.conftest import Outbox, phone_with_pass
from wallet_service.accounts.posting import touch_pass
from wallet_service.clock import ManualClock
from wallet_service.config import Settings
from wallet_service.db.models import Member
from wallet_service.db.session import session_scope
from wallet_service.dispatcher.cards import ProgramChanges
from wallet_service.push.outbox import Topic
from wallet_service.security.permissions import Role


async def test_renaming_the_program_pushes_every_active_card_once_page_by_page(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
) -> None:
    phones = [(await phone_with_pass(app, client, tenant))[1] for _ in range(5)]
    cancelled, _ = await phone_with_pass(app, client, tenant)
    answer = await client.post(
        f"/api/v1/members/{cancelled['id']}/cancellation", headers=tenant.headers()
    )
    assert answer.status_code == 200
    await outbox.deliver()
    apns.delivered.clear()
    fan_out = outbox.delivery.dispatcher.handlers[Topic.PROGRAM]
    assert isinstance(fan_out, ProgramChanges)
    fan_out.apple_page = 2  # three pages for five devices

    renamed = await client.patch(
        f"/api/v1/programs/{tenant.program_id}",
        json={"name": "Café Club"},
        headers=tenant.headers(Role.owner),
    )
    assert renamed.status_code == 200, renamed.text
    await outbox.deliver()

    assert Counter(apns.delivered) == Counter(phone.push_token for phone in phones)
    for phone in phones:  # and each phone then finds its pass changed
        assert (await phone.changed_serials()).json()["serialNumbers"] == [phone.serial]


async def test_a_change_committed_late_is_not_missed_by_a_tag_handed_out_meanwhile(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    """The slow transaction changed its card first and commits last: its change still gets a
    number above every tag handed out before its commit."""
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: transactions cannot interleave")
    slow_member, slow = await phone_with_pass(app, client, tenant)
    quick_member, quick = await phone_with_pass(app, client, tenant)
    quick.device = slow.device  # one phone holding both passes
    assert (await quick.register()).status_code == 201
    assert (await slow.changed_serials()).status_code == 200
    changed: asyncio.Event = asyncio.Event()
    commit: asyncio.Event = asyncio.Event()

    async def change(member_id: str, *, hold: bool) -> None:
        async with session_scope(session_factory) as session:
            member = await session.get(Member, uuid.UUID(member_id), with_for_update=True)
            assert member is not None
            touch_pass(session, member, clock.now())
            await session.flush()
            if hold:
                changed.set()
                await commit.wait()

    slow_change = asyncio.create_task(change(slow_member["id"], hold=True))
    await changed.wait()
    await change(quick_member["id"], hold=False)
    first = await slow.changed_serials()  # the quick change is in, the slow one is not yet
    commit.set()
    await slow_change
    second = await slow.changed_serials()

    assert first.json()["serialNumbers"] == [quick.serial]
    assert second.json()["serialNumbers"] == [slow.serial]  # not missed
    assert (await slow.changed_serials()).status_code == 204  # and nothing repeated
