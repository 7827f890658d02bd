"""The background worker: periodic housekeeping that must not run inside requests.

Run by ``wallet-service worker``; several workers may run at once, since every job is a
single idempotent statement. Today it purges idempotency records past their retention.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.config import Settings
from wallet_service.db.base import utcnow
from wallet_service.db.models import IdempotencyRecord
from wallet_service.db.session import create_engine_for, create_session_factory, session_scope

__all__ = ["purge_idempotency_records", "run_worker"]

logger = logging.getLogger(__name__)


async def purge_idempotency_records(session: AsyncSession, retention: timedelta) -> int:
    """Forget answers older than ``retention``: retries come within minutes, not days."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - retention)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _tick(factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    async with session_scope(factory) as session:
        purged = await purge_idempotency_records(
            session, timedelta(hours=settings.idempotency_retention_hours)
        )
    if purged:
        logger.info("purged %d idempotency records", purged)


async def run_worker(settings: Settings, *, once: bool = False) -> None:
    engine = create_engine_for(settings.resolved_database_url)
    factory = create_session_factory(engine)
    try:
        while True:
            try:
                await _tick(factory, settings)
            except Exception:  # a bad tick must not kill the worker; the next one retries
                logger.exception("worker tick failed")
            if once:
                return
            await asyncio.sleep(settings.worker_interval_seconds)
    finally:
        await engine.dispose()
