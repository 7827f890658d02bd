"""A member's signed pass, as the download link and the PassKit web service send it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.apple.issuer import AppleIssuer
from wallet_service.cards.state import card_state_for
from wallet_service.db.models import Member
from wallet_service.links import MemberLinks
from wallet_service.programs.service import get_program
from wallet_service.security.keys import KeyRing
from wallet_service.security.principal import MerchantScope

__all__ = ["CardSources", "signed_pass"]


@dataclass(frozen=True)
class CardSources:
    """What a pass is rendered with besides the member: links, barcode keys, the time."""

    links: MemberLinks
    barcode_keys: KeyRing
    now: datetime


async def signed_pass(
    session: AsyncSession, issuer: AppleIssuer, member: Member, sources: CardSources
) -> bytes:
    """The ``.pkpass`` of ``member``, who proved their pass (token or private link)."""
    scope = MerchantScope.of_pass_holder(member.merchant_id)
    program = await get_program(session, scope, member.program_id)
    state = await card_state_for(
        session,
        scope,
        member,
        barcode_key=sources.barcode_keys.active,
        card_page_url=sources.links.card_page_url(member.serial_number),
        now=sources.now,
    )
    return await issuer.issue(state, program.template)
