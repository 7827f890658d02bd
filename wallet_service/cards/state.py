"""What a member's card shows: the neutral ``CardState`` built from the database.

Both wallet adapters (Apple and Google) render from this one function, so a balance or tier
change looks the same everywhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from geofence import Coordinates, nearest
from wallet_service.accounts.posting import load_account
from wallet_service.db.models import Member, MemberStatus, Merchant, Store
from wallet_service.db.repository import scoped_select
from wallet_service.loyalty.tiers import TierMetric, TierProgress
from wallet_service.passes.model import CardState, Money, PassLocation
from wallet_service.scanning.short_code import issue_short_code
from wallet_service.scanning.token import issue_token
from wallet_service.security.principal import MerchantScope

__all__ = ["MAX_PASS_LOCATIONS", "barcode_alt_text", "card_state_for"]

MAX_PASS_LOCATIONS = 10


def barcode_alt_text(barcode_key: bytes, serial_number: str) -> str:
    """The human-readable code under the barcode, for typing when a scan fails."""
    return issue_short_code(barcode_key, serial_number)


async def _pass_locations(
    session: AsyncSession, scope: MerchantScope, member: Member, merchant_name: str
) -> list[PassLocation]:
    stores = list((await session.execute(scoped_select(scope, Store))).scalars())
    if not stores:
        return []
    home = next((s for s in stores if s.id == member.home_store_id), stores[0])
    chosen = nearest(
        stores,
        Coordinates(home.latitude, home.longitude),
        position=lambda s: Coordinates(s.latitude, s.longitude),
        limit=MAX_PASS_LOCATIONS,
    )
    return [
        PassLocation(
            s.latitude, s.longitude, f"{s.name} is nearby: show your {merchant_name} card."
        )
        for s in chosen
    ]


def _points_to_next_tier(progress: TierProgress | None) -> int | None:
    if progress is None:
        return None
    points = [c for c in progress.criteria if c.metric is TierMetric.POINTS_EARNED]
    return int(points[0].remaining) if points else None


async def card_state_for(
    session: AsyncSession,
    scope: MerchantScope,
    member: Member,
    *,
    barcode_key: bytes,
    card_page_url: str,
    now: datetime,
) -> CardState:
    """What ``member``'s card shows at ``now``."""
    account = await load_account(session, member)
    program = account.program
    merchant = await session.get(Merchant, member.merchant_id)
    assert merchant is not None  # a foreign key guarantees it
    state = account.state(now)
    progress = state.tier.progress
    name = f"{member.given_name} {member.family_name}".strip() or "Member"
    return CardState(
        serial_number=member.serial_number,
        member_name=name,
        balance_points=state.balances.points,
        tier_name=state.tier.tier.name,
        next_tier_name=progress.next_tier.name if progress else None,
        points_to_next_tier=_points_to_next_tier(progress),
        progress_text=state.progress_text() or "Top tier reached",
        stamps_filled=min(state.balances.stamps, state.stamps_per_card or 0),
        stamps_total=state.stamps_per_card or 0,
        barcode_message=issue_token(barcode_key, member.serial_number),
        barcode_alt_text=barcode_alt_text(barcode_key, member.serial_number),
        card_page_url=card_page_url,
        program_name=program.name,
        organization_name=merchant.name,
        last_modified=member.pass_updated_at,
        cashback=Money(member.cashback_balance, program.currency)
        if member.cashback_balance
        else None,
        locations=await _pass_locations(session, scope, member, merchant.name),
        voided=member.status is not MemberStatus.active,
        expiring_points=state.expiring_soon.points,
        next_expiry=state.expiring_soon.next_expiry,
    )
