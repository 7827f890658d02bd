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

from wallet_service.cards.page import card_page as card_page_view
from wallet_service.google.deps import GoogleWalletDep
from wallet_service.http.deps import BarcodeKeysDep, ClockDep, LinksDep, SessionDep
from wallet_service.loyalty import format_money
from wallet_service.web.pages import PAGE_HEADERS, static_url, templates

__all__ = ["card_router"]

card_router = APIRouter(include_in_schema=False)
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
    barcode_keys: BarcodeKeysDep,
    google: GoogleWalletDep,
    clock: ClockDep,
) -> HTMLResponse:
    page = await card_page_view(
        session, links, serial_number, token, barcode_key=barcode_keys.active, now=clock.now()
    )
    state = page.state
    return templates.TemplateResponse(
        request,
        "card.html",
        {
            "static_url": lambda name: static_url(request, name),
            "merchant_name": page.merchant_name,
            "program_name": page.program_name,
            "member_name": page.member_name,
            "active": page.active,
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
            "barcode_svg": segno.make_qr(page.barcode, error="m").svg_data_uri(scale=5, border=2),
            "barcode_text": page.barcode_text,
            "apple_pass_url": links.apple_pass_url(page.serial_number),
            "google_save_page_url": links.google_save_page_url(page.serial_number)
            if google.credentials(page.merchant_id)
            else None,
            "activity": [
                {
                    "when": a.occurred_at.strftime("%d %b %Y"),
                    "what": _KIND_LABELS.get(a.kind, a.kind),
                    "points": a.points,
                }
                for a in page.activity
            ],
            "rewards": page.usable_rewards,
        },
        # One customer's balance and barcode: never kept by a shared cache.
        headers={**PAGE_HEADERS, "Cache-Control": "private, no-cache"},
    )
