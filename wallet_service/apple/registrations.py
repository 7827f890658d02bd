"""PassKit web service persistence: device registrations, update queries, device logs.

A new registration is the pass added to a device, an unregistration the pass removed:
both are recorded as the card's installs (:func:`wallet_service.installs.service.record_install`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import (
    InstallEvent,
    Member,
    PassLogEntry,
    PassPlatform,
    PassRegistration,
)
from wallet_service.db.repository import count_and_list, scoped_select
from wallet_service.installs.service import record_install
from wallet_service.push.changes import current_change_seq
from wallet_service.security.principal import MerchantScope

__all__ = [
    "MAX_LOG_MESSAGE_CHARS",
    "decode_update_tag",
    "encode_update_tag",
    "list_device_logs",
    "register_device",
    "serials_updated_since",
    "store_device_logs",
    "unregister_device",
]

MAX_LOG_MESSAGE_CHARS = 2_000
_SERIAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def encode_update_tag(change_seq: int) -> str:
    """``lastUpdated``: the change sequence number, as the string Apple requires."""
    return str(change_seq)


def decode_update_tag(tag: str) -> int:
    """Raises ``ValueError`` for anything that cannot be a tag."""
    if not tag.isdigit() or len(tag) > 20:
        raise ValueError("not an update tag")
    return int(tag)


async def register_device(
    session: AsyncSession,
    member: Member,
    *,
    device_library_identifier: str,
    pass_type_identifier: str,
    push_token: str,
    now: datetime,
) -> bool:
    """Record the registration; ``True`` when it is new, ``False`` when it existed."""
    existing = (
        await session.execute(
            select(PassRegistration).where(
                PassRegistration.device_library_identifier == device_library_identifier,
                PassRegistration.pass_type_identifier == pass_type_identifier,
                PassRegistration.serial_number == member.serial_number,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        existing.push_token = push_token
        await session.flush()
        return False
    session.add(
        PassRegistration(
            merchant_id=member.merchant_id,
            member_id=member.id,
            device_library_identifier=device_library_identifier,
            pass_type_identifier=pass_type_identifier,
            serial_number=member.serial_number,
            push_token=push_token,
        )
    )
    await session.flush()
    await record_install(
        session,
        member,
        platform=PassPlatform.apple,
        event=InstallEvent.installed,
        now=now,
        device_library_identifier=device_library_identifier,
    )
    return True


async def unregister_device(
    session: AsyncSession,
    member: Member,
    *,
    device_library_identifier: str,
    pass_type_identifier: str,
    now: datetime,
) -> bool:
    """Forget the registration; ``True`` when there was one (a removal is recorded)."""
    removed = await session.execute(
        delete(PassRegistration).where(
            PassRegistration.device_library_identifier == device_library_identifier,
            PassRegistration.pass_type_identifier == pass_type_identifier,
            PassRegistration.serial_number == member.serial_number,
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        return False
    await record_install(
        session,
        member,
        platform=PassPlatform.apple,
        event=InstallEvent.removed,
        now=now,
        device_library_identifier=device_library_identifier,
    )
    return True


async def serials_updated_since(
    session: AsyncSession,
    *,
    device_library_identifier: str,
    pass_type_identifier: str,
    since: int | None,
) -> tuple[list[str], int]:
    """Serials of the device's passes changed after the tag ``since``, and the next tag.

    The counter is read first: every change numbered up to it has committed, so the cards
    read next show all of them, and a card changed later (numbered above it) is left for
    the next tag. A tag above the counter was not issued by this sequence (an update-time
    tag from before it, or a database restored from a backup): the device gets all its
    passes, once, and a good tag.
    """
    current = await current_change_seq(session)
    if since is not None and since > current:
        since = None
    statement = (
        select(Member.serial_number)
        .join(PassRegistration, PassRegistration.member_id == Member.id)
        .where(
            PassRegistration.device_library_identifier == device_library_identifier,
            PassRegistration.pass_type_identifier == pass_type_identifier,
            Member.change_seq <= current,
        )
    )
    if since is not None:
        statement = statement.where(Member.change_seq > since)
    serials = (await session.execute(statement.order_by(Member.serial_number))).scalars().all()
    return list(serials), current


async def store_device_logs(session: AsyncSession, messages: Sequence[str]) -> None:
    """Keep device error reports, attributed to the merchant whose pass they name."""
    serials = {s for message in messages for s in _SERIAL.findall(message)}
    owners: dict[str, uuid.UUID] = {}
    if serials:
        rows = await session.execute(
            select(Member.serial_number, Member.merchant_id).where(
                Member.serial_number.in_(serials)
            )
        )
        owners = {serial: merchant_id for serial, merchant_id in rows.all()}
    for message in messages:
        named = [owners[s] for s in _SERIAL.findall(message) if s in owners]
        session.add(
            PassLogEntry(
                merchant_id=named[0] if named else None,
                message=message[:MAX_LOG_MESSAGE_CHARS],
            )
        )
    await session.flush()


async def list_device_logs(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[PassLogEntry]]:
    """What Wallet on customers' devices reported about the merchant's passes, newest first."""
    statement = scoped_select(scope, PassLogEntry).order_by(
        PassLogEntry.created_at.desc(), PassLogEntry.id
    )
    return await count_and_list(session, statement, offset=offset, limit=limit)
