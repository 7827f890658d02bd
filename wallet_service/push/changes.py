"""A card changed: number the change for PassKit's update tags, and queue its delivery.

**The change sequence.** ``member.change_seq`` holds the sequence number of the transaction
that last changed the card; a device's ``passesUpdatedSince`` tag is such a number. While a
transaction runs, the cards it changes carry a private negative mark; just before it commits,
it increments the one counter row and swaps the mark for the new value. The counter's row
lock is held from there to the commit, so sequence order is commit order: a reader that sees
the counter at *n* sees every change numbered up to *n*, and no later commit can be given a
number at or below it. Tags are therefore exact (no change missed, none repeated). The lock
is taken last, after every card row a transaction locks, so it cannot deadlock with them,
and it is held only for the commit itself (SQLite serialises writers anyway).

**The outbox row.** Each change also queues a :data:`~wallet_service.push.outbox.Topic.CARD`
row (one card) or :data:`~wallet_service.push.outbox.Topic.PROGRAM` row (all the cards of a
program or merchant), due after :data:`COALESCE_WINDOW` so that a burst of changes to one
card becomes one push.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from wallet_service.db.models import Member, PassChangeCounter
from wallet_service.push.outbox import Topic, enqueue
from wallet_service.security.principal import MerchantScope

__all__ = [
    "CHANNELS",
    "COALESCE_WINDOW",
    "card_changed",
    "cards_changed",
    "current_change_seq",
    "pending_change_mark",
]

# Changes to one card within this window are delivered as one push.
COALESCE_WINDOW = timedelta(seconds=1)
CHANNELS = ("apple", "google")
COUNTER_ID = uuid.UUID(int=1)
_MARK = "wallet_change_mark"


def pending_change_mark(session: AsyncSession | Session) -> int:
    """This transaction's private mark for the cards it changes (negative: never a real
    sequence number), replaced by the real number just before commit."""
    mark: int | None = session.info.get(_MARK)
    if mark is None:
        mark = session.info[_MARK] = -secrets.randbits(62) - 1
    return mark


def card_changed(
    session: AsyncSession,
    member: Member,
    now: datetime,
    *,
    notify: bool = False,
    final: bool = False,
) -> None:
    """Record that what ``member``'s card shows changed, in the caller's transaction.

    ``notify``: the change is worth a notification where the platform makes one (Google's
    ``NOTIFY_ON_UPDATE``; Apple's lock screen follows the pass's ``changeMessage``).
    ``final``: the card was voided; its devices get this push and no more.
    """
    member.change_seq = pending_change_mark(session)
    enqueue(
        session,
        merchant_id=member.merchant_id,
        topic=Topic.CARD,
        subject=str(member.id),
        now=now,
        delay=COALESCE_WINDOW,
        payload={"notify": notify, "final": final, "channels": list(CHANNELS)},
    )


def cards_changed(
    session: AsyncSession, scope: MerchantScope, now: datetime, program_id: uuid.UUID | None
) -> dict[str, Any]:
    """Queue the fan-out for every card of a program (or of the merchant, ``None``): one
    row per platform, as Apple takes thousands of pushes a second and Google 20 writes.

    Returns the column values the caller's bulk ``UPDATE`` of those members must set.
    """
    for channel in CHANNELS:
        enqueue(
            session,
            merchant_id=scope.merchant_id,
            topic=Topic.PROGRAM,
            subject=f"{program_id or scope.merchant_id}:{channel}",
            now=now,
            delay=COALESCE_WINDOW,
            payload={"program_id": str(program_id) if program_id else None, "channel": channel},
        )
    return {"change_seq": pending_change_mark(session)}


async def current_change_seq(session: AsyncSession) -> int:
    """The number of the last committed change (0 before any)."""
    value = await session.scalar(
        select(PassChangeCounter.value).where(PassChangeCounter.id == COUNTER_ID)
    )
    return int(value or 0)


def _next_change_seq(session: Session) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(PassChangeCounter)
        .values(id=COUNTER_ID, value=1)
        .on_conflict_do_update(
            index_elements=[PassChangeCounter.id], set_={"value": PassChangeCounter.value + 1}
        )
        .returning(PassChangeCounter.value)
    )
    return int(session.execute(statement).scalar_one())


@event.listens_for(Session, "before_commit")
def _number_the_changes(session: Session) -> None:
    mark = session.info.pop(_MARK, None)
    if mark is None:
        return
    session.flush()  # the marked cards reach the database before the mark is replaced
    value = _next_change_seq(session)
    session.execute(
        update(Member)
        .where(Member.change_seq == mark)
        .values(change_seq=value)
        .execution_options(synchronize_session=False)
    )
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Member) and instance.change_seq == mark:
            set_committed_value(instance, "change_seq", value)


@event.listens_for(Session, "after_rollback")
def _forget_the_mark(session: Session) -> None:
    session.info.pop(_MARK, None)
