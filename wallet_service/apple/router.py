"""Apple Wallet over HTTP: the PassKit web service, pass downloads, and device logs.

The PassKit routes follow Apple's protocol (``{webServiceURL}/v1/...``): devices prove
themselves per pass with ``Authorization: ApplePass <authenticationToken>``.
"""

from __future__ import annotations

import email.utils
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.apple import registrations
from wallet_service.apple.delivery import CardSources, signed_pass
from wallet_service.apple.issuer import AppleIssuer, AppleWalletUnavailable
from wallet_service.apple.pkpass import PKPASS_MEDIA_TYPE
from wallet_service.cards.holders import member_by_link, member_by_serial
from wallet_service.db.models import Member
from wallet_service.errors import BadRequest, NotFound, PassAuthenticationRequired
from wallet_service.http.deps import BarcodeKeysDep, ClockDep, LinksDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.http.rate_limits import LimitPerAddress
from wallet_service.schemas import Page, ReadModel
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = [
    "DEVICE_LOG_MAX_BODY_BYTES",
    "DEVICE_LOG_PATH",
    "download_router",
    "logs_router",
    "passkit_router",
]


async def get_apple_issuer(request: Request) -> AppleIssuer:
    issuer: AppleIssuer | None = request.app.state.apple
    if issuer is None:
        raise AppleWalletUnavailable(
            "Apple Wallet passes need signing certificates matching WALLET_APPLE_PASS_TYPE_ID "
            "and WALLET_APPLE_TEAM_ID when set: run `wallet-service certs dev` (development) "
            "or `wallet-service certs import` (production), then `wallet-service certs check`."
        )
    return issuer


AppleIssuerDep = Annotated[AppleIssuer, Depends(get_apple_issuer)]
DeviceId = Annotated[str, Path(min_length=1, max_length=128)]
PassTypeId = Annotated[str, Path(min_length=1, max_length=255)]
SerialNumber = Annotated[str, Path(min_length=1, max_length=64)]

# Per address only. Not per pass before authentication: anyone could then spend a customer's
# budget and block their card; and a pass's token is an HMAC checked without a database hit,
# far beyond guessing, so counting per pass would protect nothing.
_passkit_per_address = LimitPerAddress("passkit", lambda settings: settings.rate_limit_passkit)
_pass_log_per_address = LimitPerAddress("pass-log", lambda settings: settings.rate_limit_pass_log)

passkit_router = APIRouter(
    prefix="/passkit/v1",
    tags=["PassKit web service"],
    dependencies=[Depends(_passkit_per_address)],
    # 503: Apple Wallet is not set up (no signing certificate, or one for another pass type).
    responses=responses(429, 503),
)
download_router = APIRouter(
    prefix="/wallet/apple",
    tags=["Apple Wallet"],
    dependencies=[Depends(_passkit_per_address)],
    responses=responses(429, 503),
)
logs_router = APIRouter(prefix="/passkit", tags=["Apple Wallet"])


# Apple's bodies ignore fields we do not know, unlike our own API's (RequestModel): Apple
# documents no versioning of them, and a key added by a future iOS must not stop every
# registration or log.
class RegistrationBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pushToken: str = Field(min_length=1, max_length=255)  # noqa: N815 - Apple's key


class SerialNumbers(BaseModel):
    serialNumbers: list[str]  # noqa: N815 - Apple's key
    lastUpdated: str  # noqa: N815 - Apple's key; must be a string


# Anyone may post device logs: the body, each message and their number are kept small.
DEVICE_LOG_MAX_BODY_BYTES = 64 * 1024
DEVICE_LOG_MAX_MESSAGES = 100


class DeviceLogs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    logs: list[Annotated[str, Field(max_length=registrations.MAX_LOG_MESSAGE_CHARS)]] = Field(
        max_length=DEVICE_LOG_MAX_MESSAGES
    )


class PassLogRead(ReadModel):
    id: uuid.UUID
    message: str
    created_at: datetime


def _known_pass_type(issuer: AppleIssuer, pass_type_identifier: str) -> None:
    if pass_type_identifier != issuer.pass_type_id:
        raise NotFound("Unknown pass type identifier.", code="unknown_pass_type")


async def _authenticated_pass(
    session: AsyncSession,
    issuer: AppleIssuer,
    pass_type_identifier: str,
    serial_number: str,
    authorization: str | None,
) -> Member:
    _known_pass_type(issuer, pass_type_identifier)
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != "ApplePass" or not issuer.authenticates(serial_number, token.strip()):
        raise PassAuthenticationRequired("Wrong or missing ApplePass token.")
    member = await member_by_serial(session, serial_number)
    if member is None:
        raise NotFound("No such pass.", code="pass_not_found")
    return member


def _http_date(moment: datetime, now: datetime) -> str:
    # Never in the future (HTTP forbids it): versions are spaced a second apart and may run
    # ahead of the clock for a moment; the next fetch then simply gets the pass again.
    moment = min(moment, now)
    return email.utils.format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _not_modified_since(member: Member, if_modified_since: str | None) -> bool:
    if not if_modified_since:
        return False
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date means "send the pass"
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return member.pass_updated_at.replace(microsecond=0) <= since


async def _pkpass_response(
    request: Request,
    session: AsyncSession,
    issuer: AppleIssuer,
    member: Member,
    card: CardSources,
) -> Response:
    headers = {
        "Last-Modified": _http_date(member.pass_updated_at, card.now),
        # One customer's card: revalidated by the device, never kept by a shared cache.
        "Cache-Control": "private, no-cache",
        "Content-Disposition": 'attachment; filename="loyalty-card.pkpass"',
    }
    if request.method == "HEAD":
        return Response(status_code=200, media_type=PKPASS_MEDIA_TYPE, headers=headers)
    content = await signed_pass(session, issuer, member, card)
    return Response(content=content, media_type=PKPASS_MEDIA_TYPE, headers=headers)


@passkit_router.post(
    "/devices/{device_library_identifier}/registrations/{pass_type_identifier}/{serial_number}",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Already registered"}, **responses(401, 404, 422)},
)
async def register_device(
    device_library_identifier: DeviceId,
    pass_type_identifier: PassTypeId,
    serial_number: SerialNumber,
    body: RegistrationBody,
    response: Response,
    session: SessionDep,
    issuer: AppleIssuerDep,
    clock: ClockDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """A device added the pass and asks for its updates."""
    member = await _authenticated_pass(
        session, issuer, pass_type_identifier, serial_number, authorization
    )
    created = await registrations.register_device(
        session,
        member,
        device_library_identifier=device_library_identifier,
        pass_type_identifier=pass_type_identifier,
        push_token=body.pushToken,
        now=clock.now(),
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK


@passkit_router.delete(
    "/devices/{device_library_identifier}/registrations/{pass_type_identifier}/{serial_number}",
    responses=responses(401, 404),
)
async def unregister_device(
    device_library_identifier: DeviceId,
    pass_type_identifier: PassTypeId,
    serial_number: SerialNumber,
    session: SessionDep,
    issuer: AppleIssuerDep,
    clock: ClockDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The pass was removed from the device."""
    member = await _authenticated_pass(
        session, issuer, pass_type_identifier, serial_number, authorization
    )
    await registrations.unregister_device(
        session,
        member,
        device_library_identifier=device_library_identifier,
        pass_type_identifier=pass_type_identifier,
        now=clock.now(),
    )


@passkit_router.get(
    "/devices/{device_library_identifier}/registrations/{pass_type_identifier}",
    response_model=SerialNumbers,
    responses={204: {"description": "No pass changed"}, **responses(400, 404)},
)
async def list_updated_serials(
    device_library_identifier: DeviceId,
    pass_type_identifier: PassTypeId,
    session: SessionDep,
    issuer: AppleIssuerDep,
    passes_updated_since: Annotated[str | None, Query(alias="passesUpdatedSince")] = None,
) -> Response | SerialNumbers:
    """Serial numbers of this device's passes that changed since the tag it last got."""
    _known_pass_type(issuer, pass_type_identifier)
    try:
        since = (
            registrations.decode_update_tag(passes_updated_since) if passes_updated_since else None
        )
    except ValueError as exc:
        raise BadRequest(
            "passesUpdatedSince is not a tag this service issued.", code="invalid_update_tag"
        ) from exc
    serials, last_updated = await registrations.serials_updated_since(
        session,
        device_library_identifier=device_library_identifier,
        pass_type_identifier=pass_type_identifier,
        since=since,
    )
    if not serials:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return SerialNumbers(
        serialNumbers=serials, lastUpdated=registrations.encode_update_tag(last_updated)
    )


_PASS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {PKPASS_MEDIA_TYPE: {}}, "description": "The signed pass"},
    304: {"description": "Not modified since If-Modified-Since"},
    **responses(401, 404),
}


@passkit_router.head(
    "/passes/{pass_type_identifier}/{serial_number}",
    response_class=Response,
    responses=_PASS_RESPONSES,
    operation_id="latest_pass_headers",
)
@passkit_router.get(
    "/passes/{pass_type_identifier}/{serial_number}",
    response_class=Response,
    responses=_PASS_RESPONSES,
    operation_id="latest_pass",
)
async def latest_pass(
    request: Request,
    pass_type_identifier: PassTypeId,
    serial_number: SerialNumber,
    session: SessionDep,
    issuer: AppleIssuerDep,
    links: LinksDep,
    barcode_keys: BarcodeKeysDep,
    clock: ClockDep,
    authorization: Annotated[str | None, Header()] = None,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> Response:
    """The latest version of a pass (304 when the device's copy is current)."""
    member = await _authenticated_pass(
        session, issuer, pass_type_identifier, serial_number, authorization
    )
    now = clock.now()
    if _not_modified_since(member, if_modified_since):
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED,
            headers={"Last-Modified": _http_date(member.pass_updated_at, now)},
        )
    return await _pkpass_response(
        request, session, issuer, member, CardSources(links, barcode_keys, now)
    )


DEVICE_LOG_PATH = f"{passkit_router.prefix}/log"


@passkit_router.post(
    "/log",
    status_code=status.HTTP_200_OK,
    responses=responses(413, 422),
    dependencies=[Depends(_pass_log_per_address)],
)
async def device_log(body: DeviceLogs, session: SessionDep) -> None:
    """Devices report web service problems here; the merchant reads them via the API."""
    await registrations.store_device_logs(session, body.logs)


@download_router.get(
    "/{serial_number}/{token}.pkpass",
    response_class=Response,
    responses={200: {"content": {PKPASS_MEDIA_TYPE: {}}}, **responses(404, 503)},
)
async def download_pass(
    request: Request,
    serial_number: SerialNumber,
    token: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    issuer: AppleIssuerDep,
    links: LinksDep,
    barcode_keys: BarcodeKeysDep,
    clock: ClockDep,
) -> Response:
    """The customer's *Add to Apple Wallet* link."""
    member = await member_by_link(session, links, serial_number, token)
    if member is None:
        raise NotFound("No such pass.", code="pass_not_found")
    return await _pkpass_response(
        request, session, issuer, member, CardSources(links, barcode_keys, clock.now())
    )


Reader = Annotated[Principal, Depends(require(Permission.merchant_read))]


@logs_router.get("/logs", response_model=Page[PassLogRead], responses=responses(401, 403))
async def list_device_logs(
    session: SessionDep, principal: Reader, page: PageParamsDep
) -> Page[PassLogRead]:
    """What Wallet on customers' devices reported about this merchant's passes."""
    count, rows = await registrations.list_device_logs(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[PassLogRead.model_validate(r) for r in rows], count=count)
