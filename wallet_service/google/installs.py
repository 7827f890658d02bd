"""Google Wallet's save and delete callbacks, from the verified POST to the recorded install.

A callback names an object ``<issuer id>.<pass serial>``. It is verified with that issuer id
as the recipient, and only when one of our merchants is configured with it; the card is
then looked up among those merchants' cards only, so a callback signed for one issuer can
never touch another merchant's card. The event goes through
:func:`~wallet_service.installs.service.record_install`, de-duplicated on Google's nonce.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import InstallEvent, Member, PassPlatform
from wallet_service.google.callbacks import (
    CallbackEvent,
    GoogleRootKeys,
    InvalidCallback,
    open_callback,
    parse_callback,
)
from wallet_service.google.wallet import GoogleWallet
from wallet_service.installs.service import record_install

__all__ = ["CallbackOutcome", "VerifiedCallback", "record_callback", "verify_callback"]

logger = logging.getLogger(__name__)

CallbackOutcome = Literal["recorded", "duplicate", "unknown_pass"]


@dataclass(frozen=True, slots=True)
class VerifiedCallback:
    event: CallbackEvent
    issuer_id: str
    merchant_ids: tuple[uuid.UUID, ...]  # the merchants on that issuer account


async def verify_callback(
    wallet: GoogleWallet, keys: GoogleRootKeys, body: bytes, now: datetime
) -> VerifiedCallback:
    """The callback in ``body``, verified for the issuer it names; :class:`InvalidCallback`
    when it is not Google's, not for one of our issuers, or out of date."""
    sealed = parse_callback(body)
    issuer_id = sealed.claimed_issuer_id
    merchants = tuple(
        merchant_id
        for merchant_id in wallet.configured_merchants()
        if (credentials := wallet.credentials(merchant_id)) is not None
        and credentials.issuer_id == issuer_id
    )
    if not merchants:
        raise InvalidCallback(
            "The callback is for an issuer this service does not serve.",
            code="google_callback_wrong_recipient",
        )
    event = open_callback(sealed, root_keys=await keys.current(), recipient_id=issuer_id, now=now)
    return VerifiedCallback(event=event, issuer_id=issuer_id, merchant_ids=merchants)


async def record_callback(
    session: AsyncSession, callback: VerifiedCallback, now: datetime
) -> CallbackOutcome:
    """Record the save (``installed``) or delete (``removed``) on the card it names."""
    serial_number = callback.event.object_id.removeprefix(f"{callback.issuer_id}.")
    member = await session.scalar(
        select(Member).where(
            Member.serial_number == serial_number,
            Member.merchant_id.in_(callback.merchant_ids),
        )
    )
    if member is None:
        # Google's word about an object that is not ours: nothing to record, nothing to retry.
        logger.info("Google callback for an unknown object of issuer %s", callback.issuer_id)
        return "unknown_pass"
    recorded = await record_install(
        session,
        member,
        platform=PassPlatform.google,
        event=InstallEvent.installed
        if callback.event.event_type == "save"
        else InstallEvent.removed,
        now=now,
        nonce=callback.event.nonce,
    )
    return "recorded" if recorded else "duplicate"
