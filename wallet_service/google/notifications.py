"""Google's notification budget per pass: at most 3 notifications in any 24 hours.

Google counts field-update notifications (``notifyPreference``) and ``TEXT_AND_NOTIFY``
messages together, per pass object, and past the limit may throttle the issuer. So we count
first: a notification is asked for only while the pass has had fewer than three in the last
24 hours (by the injected clock), and one is recorded only once Google has accepted the call
that carried it, so a failed call costs nothing. Rows older than the window are useless and
go when the next one for that pass is recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import GoogleNotification

__all__ = [
    "NOTIFICATIONS_PER_WINDOW",
    "NOTIFICATION_WINDOW",
    "notifications_left",
    "recent_notifications",
    "record",
]

NOTIFICATIONS_PER_WINDOW = 3
NOTIFICATION_WINDOW = timedelta(hours=24)


async def recent_notifications(
    session: AsyncSession, merchant_id: uuid.UUID, member_id: uuid.UUID, now: datetime
) -> int:
    """How many notifications Google accepted for the pass in the 24 hours before ``now``."""
    count = await session.scalar(
        select(func.count())
        .select_from(GoogleNotification)
        .where(
            GoogleNotification.merchant_id == merchant_id,
            GoogleNotification.member_id == member_id,
            GoogleNotification.sent_at > now - NOTIFICATION_WINDOW,
        )
    )
    return int(count or 0)


async def notifications_left(
    session: AsyncSession, merchant_id: uuid.UUID, member_id: uuid.UUID, now: datetime
) -> int:
    used = await recent_notifications(session, merchant_id, member_id, now)
    return max(0, NOTIFICATIONS_PER_WINDOW - used)


async def record(
    session: AsyncSession, merchant_id: uuid.UUID, member_id: uuid.UUID, sent_at: datetime
) -> None:
    """Count a notification Google accepted (and forget the pass's ones past the window)."""
    await session.execute(
        delete(GoogleNotification).where(
            GoogleNotification.merchant_id == merchant_id,
            GoogleNotification.member_id == member_id,
            GoogleNotification.sent_at <= sent_at - NOTIFICATION_WINDOW,
        )
    )
    session.add(GoogleNotification(merchant_id=merchant_id, member_id=member_id, sent_at=sent_at))
