"""The background worker: periodic jobs that must not run inside requests.

Run by ``wallet-service worker``. Several workers may run at once: every job locks the row it
changes and the loyalty domain refuses to pay a bonus or expire a lot twice (backed by
unique constraints), so overlapping runs do nothing twice.

Jobs: expire points whose lots fell due, pay birthday bonuses, purge idempotency records
and device logs past their retention. Between rounds, and all the time, the worker's
outbox dispatcher delivers pushes, Google Wallet writes and webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.accounts.posting import PostingSource, load_account, new_context, post
from wallet_service.clock import Clock
from wallet_service.config import Settings
from wallet_service.db.models import (
    IdempotencyRecord,
    LedgerEntry,
    Member,
    MemberStatus,
    PassLogEntry,
)
from wallet_service.db.session import create_engine_for, create_session_factory, session_scope
from wallet_service.dispatcher.runner import build_dispatcher, running
from wallet_service.google.client import GOOGLE_TIMEOUT
from wallet_service.google.wallet import GoogleWallet

__all__ = [
    "LoyaltyJobReport",
    "purge_device_logs",
    "purge_idempotency_records",
    "run_housekeeping",
    "run_loyalty_jobs",
    "run_worker",
]

logger = logging.getLogger(__name__)
SYSTEM = PostingSource(channel="system")
LOYALTY_JOBS_EVERY = timedelta(hours=1)
DEVICE_LOG_RETENTION = timedelta(days=30)


@dataclass
class LoyaltyJobReport:
    expiries: int = 0
    birthday_bonuses: int = 0


async def purge_idempotency_records(
    session: AsyncSession, retention: timedelta, now: datetime
) -> int:
    """Forget answers older than ``retention``: retries come within minutes, not days."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - retention)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_device_logs(session: AsyncSession, retention: timedelta, now: datetime) -> int:
    """Device logs are for debugging recent problems, and anyone may post them: keep a month."""
    result = await session.execute(
        delete(PassLogEntry).where(PassLogEntry.created_at < now - retention)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _candidates(session: AsyncSession, at: datetime) -> list[uuid.UUID]:
    """Active members with a lot due to expire or a birthday on file."""
    expiring = select(LedgerEntry.member_id).where(LedgerEntry.lot_expires_at <= at)
    rows = await session.execute(
        select(Member.id).where(
            Member.status == MemberStatus.active,
            (Member.id.in_(expiring)) | (Member.birthday.is_not(None)),
        )
    )
    return list(rows.scalars())


async def _settle_member(
    session: AsyncSession, member_id: uuid.UUID, at: datetime
) -> LoyaltyJobReport:
    report = LoyaltyJobReport()
    member = await session.get(Member, member_id, with_for_update=True)
    if member is None or member.status is not MemberStatus.active:
        return report
    account = await load_account(session, member)
    expired = account.loyalty.expire_due_points(account.ledger, new_context(SYSTEM, at, "expiry"))
    if expired is not None:
        account = await post(session, account, expired, SYSTEM)
        report.expiries += 1
    birthday = account.loyalty.award_birthday_bonus(
        account.ledger, member.birthday, new_context(SYSTEM, at, "birthday bonus")
    )
    if birthday is not None:
        await post(session, account, birthday, SYSTEM)
        report.birthday_bonuses += 1
    return report


async def run_loyalty_jobs(
    factory: async_sessionmaker[AsyncSession], at: datetime
) -> LoyaltyJobReport:
    """Expire due points and pay birthday bonuses as of ``at``, one member per transaction."""
    async with session_scope(factory) as session:
        member_ids = await _candidates(session, at)
    total = LoyaltyJobReport()
    for member_id in member_ids:
        try:
            async with session_scope(factory) as session:
                done = await _settle_member(session, member_id, at)
        except Exception:  # one broken account must not stop the others; retried next run
            logger.exception("loyalty jobs failed for member %s", member_id)
            continue
        total.expiries += done.expiries
        total.birthday_bonuses += done.birthday_bonuses
    return total


async def run_housekeeping(
    settings: Settings,
    factory: async_sessionmaker[AsyncSession],
    now: datetime,
    last_loyalty_run: datetime | None,
) -> datetime | None:
    """One round of jobs; returns when the loyalty jobs last ran."""
    async with session_scope(factory) as session:
        purged = await purge_idempotency_records(
            session, timedelta(hours=settings.idempotency_retention_hours), now
        )
        purged_logs = await purge_device_logs(session, DEVICE_LOG_RETENTION, now)
    if purged or purged_logs:
        logger.info("purged %d idempotency records, %d device logs", purged, purged_logs)
    if last_loyalty_run is None or now - last_loyalty_run >= LOYALTY_JOBS_EVERY:
        report = await run_loyalty_jobs(factory, now)
        logger.info(
            "loyalty jobs: %d expiries, %d birthday bonuses",
            report.expiries,
            report.birthday_bonuses,
        )
        return now
    return last_loyalty_run


async def run_worker(settings: Settings, clock: Clock, *, once: bool = False) -> None:
    """Deliver the outbox continuously and run jobs every ``worker_interval_seconds``.

    With ``once``: one round of jobs, then deliver whatever is due, and exit.
    """
    engine = create_engine_for(settings.resolved_database_url)
    factory = create_session_factory(engine, clock)
    http = httpx.AsyncClient(timeout=GOOGLE_TIMEOUT)
    google = GoogleWallet.from_settings(settings, http, clock)
    delivery = build_dispatcher(settings, factory, clock, google)
    last_loyalty_run: datetime | None = None
    try:
        if once:
            await run_housekeeping(settings, factory, clock.now(), None)
            await delivery.dispatcher.drain()
            return
        async with running(delivery):
            while True:
                try:
                    last_loyalty_run = await run_housekeeping(
                        settings, factory, clock.now(), last_loyalty_run
                    )
                except Exception:  # a bad round must not kill the worker; the next retries
                    logger.exception("worker round failed")
                await asyncio.sleep(settings.worker_interval_seconds)
    finally:
        await delivery.aclose()
        await google.aclose()
        await http.aclose()
        await engine.dispose()
