"""``/wallet/google``: the *Add to Google Wallet* hop and the images Google fetches from us."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from fastapi.responses import RedirectResponse, Response

from wallet_service.errors import NotFound
from wallet_service.google.deps import GoogleWalletDep
from wallet_service.google.wallet import PUBLIC_IMAGES
from wallet_service.http.deps import ClockDep, LinksDep, SessionFactoryDep
from wallet_service.http.problems import responses
from wallet_service.http.rate_limits import LimitPerAddress
from wallet_service.passes.templates import TemplateError, load_template

__all__ = ["router"]

router = APIRouter(prefix="/wallet/google", tags=["Google Wallet"])

# The save hop writes to Google's API, whose request budget a flood would spend. Per address,
# not per card: a per-card count before the link's token is checked would let anyone block
# a customer's card.
_save_per_address = LimitPerAddress("google-save", lambda settings: settings.rate_limit_google_save)


@router.get(
    "/images/{template}/{image}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **responses(404)},
)
async def template_image(
    template: Annotated[str, Path(max_length=64)],
    image: Annotated[str, Path(max_length=32)],
    wallet: GoogleWalletDep,
) -> Response:
    """A card design's logo or banner: Google Wallet fetches them from here."""
    try:
        files = (
            load_template(template, wallet.templates_dir).files if image in PUBLIC_IMAGES else {}
        )
    except TemplateError:
        files = {}
    if image not in files:
        raise NotFound("No such image.", code="image_not_found")
    return Response(
        files[image], media_type="image/png", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get(
    "/{serial_number}/{token}",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    responses=responses(404, 429, 502, 503),
    dependencies=[Depends(_save_per_address)],
)
async def save_to_google_wallet(
    serial_number: Annotated[str, Path(max_length=64)],
    token: Annotated[str, Path(max_length=64)],
    factory: SessionFactoryDep,
    wallet: GoogleWalletDep,
    links: LinksDep,
    clock: ClockDep,
) -> RedirectResponse:
    """The card page's *Add to Google Wallet* button: brings the card up to date in Google
    Wallet, then sends the customer to Google's save page."""
    target = await wallet.save_hop(factory, links, serial_number, token, clock.now())
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
