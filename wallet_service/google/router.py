"""``/wallet/google``: the *Add to Google Wallet* hop, the images Google fetches from us, and
the save/delete callbacks Google posts to us."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from wallet_service.errors import NotFound
from wallet_service.google.deps import GoogleCallbackKeysDep, GoogleWalletDep
from wallet_service.google.installs import CallbackOutcome, record_callback, verify_callback
from wallet_service.google.wallet import PUBLIC_IMAGES
from wallet_service.http.deps import ClockDep, LinksDep, SessionDep, SessionFactoryDep
from wallet_service.http.problems import responses
from wallet_service.http.rate_limits import LimitPerAddress
from wallet_service.passes.templates import TemplateError, load_template

__all__ = ["GoogleCallbackReceipt", "router"]

router = APIRouter(prefix="/wallet/google", tags=["Google Wallet"])

# The save hop writes to Google's API, whose request budget a flood would spend. Per address,
# not per card: a per-card count before the link's token is checked would let anyone block
# a customer's card.
_save_per_address = LimitPerAddress("google-save", lambda settings: settings.rate_limit_google_save)
_callbacks_per_address = LimitPerAddress(
    "google-callbacks", lambda settings: settings.rate_limit_google_callbacks
)

# What Google posts (ECv2SigningOnly), for the OpenAPI document: the route reads the raw
# body itself, because its exact shape is part of what is verified.
_CALLBACK_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": [
                    "protocolVersion",
                    "signature",
                    "intermediateSigningKey",
                    "signedMessage",
                ],
                "properties": {
                    "protocolVersion": {"type": "string", "enum": ["ECv2SigningOnly"]},
                    "signature": {"type": "string", "format": "byte"},
                    "intermediateSigningKey": {
                        "type": "object",
                        "required": ["signedKey", "signatures"],
                        "properties": {
                            "signedKey": {"type": "string"},
                            "signatures": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    "signedMessage": {"type": "string"},
                },
            }
        }
    },
}


class GoogleCallbackReceipt(BaseModel):
    """``recorded``; ``duplicate`` (a repeated delivery, recorded once); ``unknown_pass``
    (a genuine callback about an object that is none of our cards)."""

    outcome: CallbackOutcome


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


@router.post(
    "/callbacks",
    response_model=GoogleCallbackReceipt,
    responses=responses(400, 422, 429, 503),
    dependencies=[Depends(_callbacks_per_address)],
    openapi_extra={"requestBody": _CALLBACK_BODY},
)
async def google_callback(
    request: Request,
    session: SessionDep,
    wallet: GoogleWalletDep,
    keys: GoogleCallbackKeysDep,
    clock: ClockDep,
) -> GoogleCallbackReceipt:
    """Google Wallet tells us a customer saved (``save``) or deleted (``del``) a card:
    verified as Google signs it (ECv2SigningOnly), recorded once per nonce."""
    now = clock.now()
    callback = await verify_callback(wallet, keys, await request.body(), now)
    return GoogleCallbackReceipt(outcome=await record_callback(session, callback, now))
