"""Live cards: a change at the till reaches the phone through the outbox, APNs and PassKit."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.apple.apns_standin import ApnsStandIn
from tests.conftest import PASS_TYPE_ID
from tests.factories import Tenant
from tests.push.conftest import Outbox, phone_with_pass
from tests.scanning.test_till import _scan
from wallet_service.db.models import Merchant, OutboxMessage, PassRegistration
from wallet_service.db.session import session_scope


def _points_on_the_pass(pkpass: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        document = json.loads(archive.read("pass.json"))
    fields = [
        field
        for group in document["storeCard"].values()
        if isinstance(group, list)
        for field in group
    ]
    [points] = [field for field in fields if field["key"] == "balance"]
    return str(points["value"])


async def _outbox_rows(factory: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with session_scope(factory) as session:
        return list((await session.execute(select(OutboxMessage))).scalars())


async def test_a_scan_reaches_the_phone_which_fetches_the_new_balance_and_then_hears_nothing_more(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    member, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()  # the enrolment's own change
    apns.pushes.clear()

    scanned = await _scan(client, tenant, tenant.barcode(phone.serial), "20.00")
    assert scanned.status_code == 201, scanned.text
    [row] = await _outbox_rows(session_factory)  # written with the scan, in its transaction
    assert (row.topic, row.subject) == ("card", member["id"])
    report = await outbox.deliver()

    assert report.delivered == 1
    [push] = apns.pushes
    assert (push.device_token, push.topic, push.body) == (phone.push_token, PASS_TYPE_ID, b"{}")
    assert push.headers[":path"] == f"/3/device/{phone.push_token}"
    # What Wallet does on the push: the serials changed since its tag, then the pass.
    changed = await phone.changed_serials()
    assert changed.status_code == 200 and changed.json()["serialNumbers"] == [phone.serial]
    fetched = await phone.fetch_pass()
    assert fetched.status_code == 200
    balance = scanned.json()["member"]["points_balance"]
    assert _points_on_the_pass(fetched.content) == str(balance)
    assert (await phone.changed_serials()).status_code == 204  # the new tag: nothing since
    assert await _outbox_rows(session_factory) == []


async def test_a_burst_of_twenty_scans_on_one_card_gives_one_or_two_pushes(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
) -> None:
    _, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    apns.pushes.clear()

    for _ in range(20):
        scanned = await _scan(client, tenant, tenant.barcode(phone.serial), "3.00")
        assert scanned.status_code == 201, scanned.text
    await outbox.deliver()

    assert 1 <= len(apns.pushes) <= 2
    assert {push.device_token for push in apns.pushes} == {phone.push_token}


async def test_apple_saying_unregistered_removes_the_registration(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    _, gone = await phone_with_pass(app, client, tenant)
    _, kept = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    apns.answers[gone.push_token] = 410

    for phone in (gone, kept):
        assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201
    report = await outbox.deliver()

    assert (report.delivered, report.failed) == (2, 0)
    async with session_scope(session_factory) as session:
        tokens = set((await session.execute(select(PassRegistration.push_token))).scalars())
    assert tokens == {kept.push_token}


async def test_a_push_apple_cannot_take_now_is_retried_later(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    _, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    apns.delivered.clear()
    apns.answers[phone.push_token] = 503
    assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201

    first = await outbox.deliver()
    [row] = await _outbox_rows(session_factory)
    del apns.answers[phone.push_token]
    outbox.clock.advance(row.available_at - outbox.clock.now())
    second = await outbox.deliver()

    assert (first.failed, second.delivered) == (1, 1)
    assert row.attempts == 1 and row.last_error
    assert apns.delivered == [phone.push_token]
    assert await _outbox_rows(session_factory) == []


async def test_a_voided_card_gets_one_last_push_then_no_more(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
) -> None:
    member, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    apns.pushes.clear()

    cancelled = await client.post(
        f"/api/v1/members/{member['id']}/cancellation", headers=tenant.headers()
    )
    assert cancelled.status_code == 200, cancelled.text
    await outbox.deliver()
    assert [push.device_token for push in apns.pushes] == [phone.push_token]
    assert (await phone.changed_serials()).json()["serialNumbers"] == [phone.serial]
    assert (await phone.fetch_pass()).status_code == 200  # the voided pass

    erased = await client.post(f"/api/v1/members/{member['id']}/erasure", headers=tenant.headers())
    assert erased.status_code == 200, erased.text
    await outbox.deliver()
    assert len(apns.pushes) == 1  # the card was voided already: nothing more


async def test_a_certificate_apple_refuses_stops_the_merchants_pushes_and_shows_on_readyz(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    apns: ApnsStandIn,
    outbox: Outbox,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    _, phone = await phone_with_pass(app, client, tenant)
    await outbox.deliver()
    apns.answers[phone.push_token] = 403
    assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201

    await outbox.deliver()
    apns.pushes.clear()
    assert (await _scan(client, tenant, tenant.barcode(phone.serial))).status_code == 201
    await outbox.deliver()

    assert apns.pushes == []  # stopped: Apple would refuse them all
    rows = await _outbox_rows(session_factory)  # kept, not spent
    assert len(rows) == 2 and all(r.attempts == 0 and r.dead_at is None for r in rows)
    async with session_scope(session_factory) as session:
        refused = await session.scalar(
            select(func.count()).where(Merchant.apns_refused_certificate.is_not(None))
        )
    assert refused == 1
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["apns"]["status"] == "refused"
