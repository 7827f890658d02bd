"""The customer's card page (``/card/{serial}/{token}``): the link on the back of the pass.

Shows what the pass shows (balance, tier, progress, barcode) plus the recent activity and
the rewards within reach, with the *Add to Apple Wallet* button. The link is private: its
token is a MAC of the serial number (see ``wallet_service.links``).
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from wallet_service.api.deps import LinksDep, SessionDep
from wallet_service.api.members.accounts import load_account
from wallet_service.api.members.cards import barcode_alt_text
from wallet_service.api.members.service import member_by_link
from wallet_service.db.base import utcnow
from wallet_service.db.models import LedgerTransaction, MemberStatus, Merchant
from wallet_service.errors import NotFound
from wallet_service.loyalty import format_money
from wallet_service.scanning.service import stock_used
from wallet_service.scanning.token import issue_token
from wallet_service.web.router import PAGE_HEADERS, static_url, templates

__all__ = ["card_router"]

card_router = APIRouter(include_in_schema=False)
RECENT_ACTIVITY = 10
_KIND_LABELS = {
    "purchase": "Purchase",
    "redemption": "Reward",
    "bonus": "Bonus",
    "expiry": "Points expired",
    "adjustment": "Correction",
    "reversal": "Cancelled",
}


@card_router.get("/card/{serial_number}/{token}", response_class=HTMLResponse)
async def card_page(
    request: Request,
    serial_number: Annotated[str, Path(max_length=64)],
    token: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    links: LinksDep,
) -> HTMLResponse:
    member = await member_by_link(session, links, serial_number, token)
    if member is None:
        raise NotFound("No such card.", code="card_not_found")
    account = await load_account(session, member)
    merchant = await session.get(Merchant, member.merchant_id)
    assert merchant is not None  # a foreign key guarantees it
    now = utcnow()
    state = account.state(now)
    recent = (
        await session.execute(
            select(LedgerTransaction)
            .where(LedgerTransaction.member_id == member.id)
            .order_by(LedgerTransaction.position.desc())
            .limit(RECENT_ACTIVITY)
        )
    ).scalars()
    points_by_transaction = {t.transaction_id: t for t in account.ledger.transactions}
    activity = []
    for row in recent:
        domain = points_by_transaction.get(str(row.id))
        points = sum(e.points for e in domain.entries) if domain else 0
        activity.append(
            {
                "when": row.occurred_at.astimezone(account.loyalty.rules.zone).strftime("%d %b %Y"),
                "what": _KIND_LABELS.get(row.kind, row.kind),
                "points": points,
            }
        )
    barcode = issue_token(request.app.state.barcode_keys.active, member.serial_number)
    rewards = account.loyalty.reward_options(
        account.ledger, now, stock_used=await stock_used(session, account)
    )
    return templates.TemplateResponse(
        request,
        "card.html",
        {
            "static_url": lambda name: static_url(request, name),
            "merchant_name": merchant.name,
            "program_name": account.program.name,
            "member_name": f"{member.given_name} {member.family_name}".strip() or "Member",
            "active": member.status is MemberStatus.active,
            "points": state.balances.points,
            "tier": state.tier.tier.name,
            "perks": state.tier.tier.perks,
            "progress": state.progress_text(),
            "progress_ratio": int(state.tier.progress.ratio * 100) if state.tier.progress else 100,
            "cashback": format_money(state.balances.cashback, state.currency, "en")
            if state.balances.cashback
            else None,
            "stamps": (state.balances.stamps, state.stamps_per_card)
            if state.stamps_per_card
            else None,
            "expiring": state.expiring_soon.points,
            "barcode_svg": segno.make_qr(barcode, error="m").svg_data_uri(scale=5, border=2),
            "barcode_text": barcode_alt_text(
                request.app.state.barcode_keys.active, member.serial_number
            ),
            "apple_pass_url": links.apple_pass_url(member.serial_number),
            "google_save_page_url": links.google_save_page_url(member.serial_number)
            if request.app.state.google.credentials(member.merchant_id)
            else None,
            "activity": activity,
            "rewards": [r for r in rewards if r.usable],
        },
        # One customer's balance and barcode: never kept by a shared cache.
        headers={**PAGE_HEADERS, "Cache-Control": "private, no-cache"},
    )
