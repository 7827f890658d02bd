"""The background worker's housekeeping."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_tenant
from wallet_service.clock import ManualClock
from wallet_service.db.models import IdempotencyRecord, PassLogEntry
from wallet_service.db.session import session_scope
from wallet_service.worker import (
    DEVICE_LOG_RETENTION,
    purge_device_logs,
    purge_idempotency_records,
)


async def test_old_idempotency_records_are_purged_and_recent_ones_kept(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    now = clock.now()
    tenant = await make_tenant(session_factory, client)
    async with session_scope(session_factory) as session:
        for key, age in (("old", timedelta(days=10)), ("recent", timedelta(minutes=5))):
            session.add(
                IdempotencyRecord(
                    merchant_id=tenant.merchant_id,
                    caller_id=uuid.uuid4(),
                    key=key,
                    request_fingerprint="f" * 64,
                    status_code=201,
                    response_body={},
                    created_at=now - age,
                )
            )
    async with session_scope(session_factory) as session:
        assert await purge_idempotency_records(session, timedelta(hours=72), now) == 1
    async with session_scope(session_factory) as session:
        keys = (await session.execute(select(IdempotencyRecord.key))).scalars().all()
        assert keys == ["recent"]
        assert (await session.execute(select(func.count(IdempotencyRecord.id)))).scalar_one() == 1


async def test_device_logs_older_than_a_month_are_purged(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    now = clock.now()
    async with session_scope(session_factory) as session:
        for message, age in (("old", timedelta(days=40)), ("fresh", timedelta(days=1))):
            session.add(PassLogEntry(message=message, created_at=now - age))
    async with session_scope(session_factory) as session:
        assert await purge_device_logs(session, DEVICE_LOG_RETENTION, now) == 1
    async with session_scope(session_factory) as session:
        messages = (await session.execute(select(PassLogEntry.message))).scalars().all()
    assert messages == ["fresh"]
