"""The transactional outbox: rows written with the change, delivered at least once.

A row is leased (``leased_until``, ``lease_token``) by the dispatcher that takes it, in a
short transaction of its own; on PostgreSQL the lease is taken ``FOR UPDATE SKIP LOCKED``, so
workers never take the same row, and a worker that dies leaves rows that become due again
when the lease runs out. Delivered rows are deleted; a failed one is due again after an
exponential backoff with jitter; after ``max_attempts`` it is dead, kept for the merchant to
read and retry.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import OutboxMessage
from wallet_service.db.repository import count_and_list, scoped_select
from wallet_service.security.principal import MerchantScope

__all__ = [
    "Lease",
    "Topic",
    "backlog",
    "backoff",
    "claim",
    "complete",
    "enqueue",
    "list_dead",
    "release",
    "retry_dead",
]


class Topic:
    """Who delivers a row (the dispatcher has one handler per topic)."""

    CARD = "card"  # one card changed: APNs to its devices, its Google object
    PROGRAM = "program"  # every card of a program (or merchant) changed: fan-out
    WEBHOOK = "webhook"  # one delivery of a merchant webhook event


def enqueue(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    topic: str,
    subject: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
    delay: timedelta = timedelta(0),
) -> OutboxMessage:
    """Add a row to the caller's transaction: it exists exactly if the transaction commits."""
    message = OutboxMessage(
        merchant_id=merchant_id,
        topic=topic,
        subject=subject,
        payload=payload or {},
        available_at=now + delay,
        attempts=0,
        created_at=now,
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class Lease:
    """Rows one dispatcher holds; they stay its own until ``until`` (then anyone's)."""

    token: uuid.UUID
    until: datetime
    messages: Sequence[OutboxMessage]


def _takeable(now: datetime) -> Any:
    return and_(
        OutboxMessage.dead_at.is_(None),
        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
    )


async def claim(
    session: AsyncSession, now: datetime, *, limit: int, lease: timedelta
) -> Lease | None:
    """Lease up to ``limit`` due rows, and with them every other takeable row of the same
    topic and subject (due or not): one delivery then covers them all (coalescing)."""
    due = await session.execute(
        select(OutboxMessage.topic, OutboxMessage.subject)
        .where(_takeable(now), OutboxMessage.available_at <= now)
        .order_by(OutboxMessage.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    subjects = {(topic, subject) for topic, subject in due.all()}
    if not subjects:
        return None
    rows = (
        (
            await session.execute(
                select(OutboxMessage)
                .where(
                    _takeable(now),
                    tuple_(OutboxMessage.topic, OutboxMessage.subject).in_(list(subjects)),
                )
                .order_by(OutboxMessage.created_at)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    token, until = uuid.uuid4(), now + lease
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([row.id for row in rows]))
        .values(leased_until=until, lease_token=token, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    for row in rows:
        row.attempts += 1
    return Lease(token, until, rows)


def _held(lease: Lease, ids: Sequence[uuid.UUID]) -> Any:
    # A lease that ran out may have been taken over: then the rows are no longer ours.
    return and_(OutboxMessage.id.in_(list(ids)), OutboxMessage.lease_token == lease.token)


async def complete(session: AsyncSession, lease: Lease, ids: Sequence[uuid.UUID]) -> None:
    """Delivered: the rows go."""
    if ids:
        await session.execute(delete(OutboxMessage).where(_held(lease, ids)))


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff with full jitter (so a burst of failures does not retry as one)."""
    ceiling: timedelta = min(cap, base * (2 ** max(attempts - 1, 0)))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


async def release(
    session: AsyncSession,
    lease: Lease,
    ids: Sequence[uuid.UUID],
    *,
    now: datetime,
    due: datetime,
    error: str | None,
    max_attempts: int,
    spend_attempt: bool = True,
    payload: dict[str, Any] | None = None,
) -> int:
    """Not (fully) delivered: the rows are due again at ``due``, or dead past
    ``max_attempts``. ``spend_attempt=False`` hands back the attempt the lease took (a pause
    that is not the rows' fault, or a fan-out that goes on); ``payload`` replaces theirs
    (what is left to do). Returns how many rows died."""
    held = set(ids)
    died = 0
    for message in lease.messages:
        if message.id not in held:
            continue
        attempts = message.attempts if spend_attempt else message.attempts - 1
        dead = spend_attempt and attempts >= max_attempts
        died += dead
        values: dict[str, Any] = dict(
            attempts=attempts,
            leased_until=None,
            lease_token=None,
            last_error=error[:1000] if error else None,
            available_at=due,
            dead_at=now if dead else None,
        )
        if payload is not None:
            values["payload"] = payload
        await session.execute(
            update(OutboxMessage).where(_held(lease, [message.id])).values(**values)
        )
    return died


async def list_dead(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[OutboxMessage]]:
    statement = (
        scoped_select(scope, OutboxMessage)
        .where(OutboxMessage.dead_at.is_not(None))
        .order_by(OutboxMessage.dead_at.desc(), OutboxMessage.id)
    )
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def retry_dead(
    session: AsyncSession, scope: MerchantScope, message_id: uuid.UUID | None, now: datetime
) -> int:
    """Give dead rows (one, or all of the merchant's) a fresh set of attempts, due now."""
    statement = update(OutboxMessage).where(
        OutboxMessage.merchant_id == scope.merchant_id, OutboxMessage.dead_at.is_not(None)
    )
    if message_id is not None:
        statement = statement.where(OutboxMessage.id == message_id)
    result = await session.execute(
        statement.values(
            dead_at=None, attempts=0, available_at=now, leased_until=None, lease_token=None
        ).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def backlog(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """Rows waiting and rows dead, by topic (for ``/metrics``)."""
    rows = await session.execute(
        select(OutboxMessage.topic, OutboxMessage.dead_at.is_(None), func.count()).group_by(
            OutboxMessage.topic, OutboxMessage.dead_at.is_(None)
        )
    )
    queued: dict[str, int] = {}
    dead: dict[str, int] = {}
    for topic, alive, count in rows.all():
        (queued if alive else dead)[topic] = int(count)
    return queued, dead
