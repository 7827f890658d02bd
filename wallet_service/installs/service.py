"""Record a card added to or removed from a wallet, whatever told us.

:func:`record_install` is the one place such an event is written (Apple registrations and
unregistrations, Google's save and delete callbacks), so whatever must follow every install
or removal belongs inside it. Like every service it flushes and never commits: the event
lands in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import InstallEvent, Member, PassInstallEvent, PassPlatform
from wallet_service.db.repository import scoped_select
from wallet_service.security.principal import MerchantScope
from wallet_service.webhooks.schemas import EventType
from wallet_service.webhooks.service import card_data, emit

__all__ = ["install_events", "record_install"]


async def record_install(
    session: AsyncSession,
    member: Member,
    *,
    platform: PassPlatform,
    event: InstallEvent,
    now: datetime,
    nonce: str | None = None,
    device_library_identifier: str | None = None,
) -> bool:
    """Record that ``member``'s card was installed or removed; ``False`` when ``nonce`` was
    recorded already for the merchant (a repeated delivery), and nothing was written."""
    row = PassInstallEvent(
        merchant_id=member.merchant_id,
        member_id=member.id,
        platform=platform,
        event=event,
        occurred_at=now,
        nonce=nonce,
        device_library_identifier=device_library_identifier,
    )
    if nonce is None:
        session.add(row)
        await session.flush()
        await _tell_webhooks(session, member, platform, event, now)
        return True
    seen = await session.scalar(
        select(PassInstallEvent.id).where(
            PassInstallEvent.merchant_id == member.merchant_id, PassInstallEvent.nonce == nonce
        )
    )
    if seen is not None:
        return False
    try:
        # A savepoint: a concurrent delivery of the same callback that commits first makes
        # this insert fail, and only this insert is undone.
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    await _tell_webhooks(session, member, platform, event, now)
    return True


async def _tell_webhooks(
    session: AsyncSession,
    member: Member,
    platform: PassPlatform,
    event: InstallEvent,
    now: datetime,
) -> None:
    kind = EventType.pass_installed if event is InstallEvent.installed else EventType.pass_removed
    await emit(session, member.merchant_id, kind, card_data(member, platform=platform), now)


async def install_events(
    session: AsyncSession, scope: MerchantScope, member: Member
) -> Sequence[PassInstallEvent]:
    """The card's installs and removals, oldest first."""
    statement = scoped_select(scope, PassInstallEvent).where(
        PassInstallEvent.member_id == member.id
    )
    return (
        await session.scalars(
            statement.order_by(PassInstallEvent.occurred_at, PassInstallEvent.created_at)
        )
    ).all()
