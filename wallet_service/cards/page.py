"""The customer's card page, as data: what the pass shows plus recent activity and the
rewards within reach. ``web/card.py`` renders it; nothing here knows about HTML."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import load_account
from wallet_service.cards.holders import member_by_link
from wallet_service.cards.state import barcode_alt_text
from wallet_service.db.models import LedgerTransaction, MemberStatus, Merchant
from wallet_service.errors import NotFound
from wallet_service.links import MemberLinks
from wallet_service.loyalty import MemberState, RewardEligibility
from wallet_service.scanning.service import stock_used
from wallet_service.scanning.token import issue_token

__all__ = ["RECENT_ACTIVITY", "Activity", "CardPage", "card_page"]

RECENT_ACTIVITY = 10


@dataclass(frozen=True)
class Activity:
    occurred_at: datetime  # in the program's timezone
    kind: str
    points: int


@dataclass(frozen=True)
class CardPage:
    serial_number: str
    merchant_id: uuid.UUID
    merchant_name: str
    program_name: str
    member_name: str
    active: bool
    state: MemberState
    barcode: str
    barcode_text: str
    activity: list[Activity]
    usable_rewards: list[RewardEligibility]


async def card_page(
    session: AsyncSession,
    links: MemberLinks,
    serial_number: str,
    token: str,
    *,
    barcode_key: bytes,
    now: datetime,
) -> CardPage:
    """Everything the card page shows at ``now`` for the member a private link names.

    A wrong token and an unknown serial number are the same ``NotFound``.
    """
    member = await member_by_link(session, links, serial_number, token)
    if member is None:
        raise NotFound("No such card.", code="card_not_found")
    account = await load_account(session, member)
    merchant = await session.get(Merchant, member.merchant_id)
    assert merchant is not None  # a foreign key guarantees it
    recent = (
        await session.execute(
            select(LedgerTransaction)
            .where(
                LedgerTransaction.merchant_id == member.merchant_id,
                LedgerTransaction.member_id == member.id,
            )
            .order_by(LedgerTransaction.position.desc())
            .limit(RECENT_ACTIVITY)
        )
    ).scalars()
    by_id = {t.transaction_id: t for t in account.ledger.transactions}
    zone = account.loyalty.rules.zone
    activity = []
    for row in recent:
        domain = by_id.get(str(row.id))
        points = sum(e.points for e in domain.entries) if domain else 0
        activity.append(Activity(row.occurred_at.astimezone(zone), row.kind, points))
    rewards = account.loyalty.reward_options(
        account.ledger, now, stock_used=await stock_used(session, account)
    )
    return CardPage(
        serial_number=member.serial_number,
        merchant_id=member.merchant_id,
        merchant_name=merchant.name,
        program_name=account.program.name,
        member_name=f"{member.given_name} {member.family_name}".strip() or "Member",
        active=member.status is MemberStatus.active,
        state=account.state(now),
        barcode=issue_token(barcode_key, member.serial_number),
        barcode_text=barcode_alt_text(barcode_key, member.serial_number),
        activity=activity,
        usable_rewards=[r for r in rewards if r.usable],
    )
