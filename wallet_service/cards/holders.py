"""Who holds a card: lookups for the pass protocols and private links.

These are the only unscoped member lookups: the caller proves itself per pass (an
``ApplePass`` token, a link token), and the member it names then gives the tenant scope
(:meth:`~wallet_service.security.principal.MerchantScope.of_pass_holder`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import Member
from wallet_service.links import MemberLinks

__all__ = ["member_by_link", "member_by_serial"]


async def member_by_serial(session: AsyncSession, serial_number: str) -> Member | None:
    """Unscoped lookup for the pass protocols, whose callers prove themselves per pass."""
    return (
        await session.execute(select(Member).where(Member.serial_number == serial_number))
    ).scalar_one_or_none()


async def member_by_link(
    session: AsyncSession, links: MemberLinks, serial_number: str, token: str
) -> Member | None:
    """The member a private link (card page, pass download, save hop) names, if its token
    is right: a wrong token and an unknown serial look the same."""
    if not links.matches(serial_number, token):
        return None
    return await member_by_serial(session, serial_number)
