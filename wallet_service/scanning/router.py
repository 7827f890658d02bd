"""``/api/v1/scans``, ``/api/v1/redemptions``, ``/api/v1/transactions/{id}/reversal``.

Used by the scanner page and by POS / e-commerce integrations. Every mutating call needs an
``Idempotency-Key`` (online orders may use their ``order_id`` instead).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from wallet_service.errors import BadRequest
from wallet_service.http.deps import ClockDep, IdempotencyKeyDep, SessionDep, require
from wallet_service.http.problems import responses
from wallet_service.http.rate_limits import LimitPerCredential
from wallet_service.idempotency.records import IdempotentCall, StoredResponse
from wallet_service.scanning import service
from wallet_service.scanning.batcher import ScanBatcher
from wallet_service.scanning.schemas import (
    LookupRead,
    RedemptionCreate,
    RedemptionRead,
    ReversalCreate,
    ReversalRead,
    ScanCreate,
    ScanRead,
)
from wallet_service.security.keys import KeyRing
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

# Per credential: a runaway integration or a stolen key cannot flood the tills' database.
_per_credential = LimitPerCredential("scans", lambda settings: settings.rate_limit_scans)
router = APIRouter(
    tags=["scanning"], dependencies=[Depends(_per_credential)], responses=responses(429)
)

Scanner = Annotated[Principal, Depends(require(Permission.scans_write))]
# One card by its barcode, not the customer list: every till may, members:read not needed.
Lookup = Annotated[Principal, Depends(require(Permission.cards_lookup))]
_MUTATION_ERRORS = responses(400, 401, 403, 404, 409, 422)
ONLINE_ORDER_KEY = "online-order:"


def _barcode_key(request: Request) -> KeyRing:
    keys: KeyRing = request.app.state.barcode_keys
    return keys


def _call(
    key: str | None, request: Request, principal: Principal, payload: object
) -> IdempotentCall:
    if not key:
        raise BadRequest(
            "Send an Idempotency-Key header so a retried request is not applied twice.",
            code="idempotency_key_required",
        )
    # The caller's own, online order ids included: nobody else's request can claim it first.
    return IdempotentCall.for_caller(principal.id, key, request.url.path, payload)


def _json(stored: StoredResponse) -> JSONResponse:
    return JSONResponse(stored.body, status_code=stored.status_code)


@router.get(
    "/scans/lookup", response_model=LookupRead, responses=responses(401, 403, 404, 409, 422)
)
async def lookup_card(
    request: Request,
    session: SessionDep,
    principal: Lookup,
    clock: ClockDep,
    barcode: Annotated[str, Query(min_length=1, max_length=512)],
) -> LookupRead:
    """Check a card without crediting it: member, balance, tier and usable rewards."""
    return await service.lookup_card(
        session, principal, barcode, _barcode_key(request), clock.now()
    )


@router.post(
    "/scans",
    response_model=ScanRead,
    status_code=status.HTTP_201_CREATED,
    responses=_MUTATION_ERRORS,
)
async def record_scan(
    request: Request,
    data: ScanCreate,
    session: SessionDep,
    principal: Scanner,
    clock: ClockDep,
    idempotency_key: IdempotencyKeyDep,
) -> JSONResponse:
    """Credit a purchase (in store or online) to the card's member."""
    if data.channel == "online" and data.order_id:
        # The order id is the key, whatever the shop sends: a retry with a fresh header
        # must still not credit the same order twice (keys are the caller's, see _call).
        idempotency_key = f"{ONLINE_ORDER_KEY}{data.order_id}"
    call = _call(idempotency_key, request, principal, data.model_dump(mode="json"))
    batcher: ScanBatcher = request.app.state.scan_batcher
    return _json(
        await batcher.scan(session, principal, data, call, _barcode_key(request), clock.now())
    )


@router.post(
    "/redemptions",
    response_model=RedemptionRead,
    status_code=status.HTTP_201_CREATED,
    responses=_MUTATION_ERRORS,
)
async def redeem_reward(
    request: Request,
    data: RedemptionCreate,
    session: SessionDep,
    principal: Scanner,
    clock: ClockDep,
    idempotency_key: IdempotencyKeyDep,
) -> JSONResponse:
    """Spend points on a catalog reward; the answer says what to give the customer."""
    call = _call(idempotency_key, request, principal, data.model_dump(mode="json"))
    stored = await service.redeem(
        session, principal, data, call, _barcode_key(request), clock.now()
    )
    return _json(stored)


@router.post(
    "/transactions/{transaction_id}/reversal",
    response_model=ReversalRead,
    status_code=status.HTTP_201_CREATED,
    responses=_MUTATION_ERRORS,
)
async def reverse_transaction(
    request: Request,
    transaction_id: uuid.UUID,
    data: ReversalCreate,
    session: SessionDep,
    principal: Scanner,
    clock: ClockDep,
    idempotency_key: IdempotencyKeyDep,
) -> JSONResponse:
    """Undo a mistaken scan or redemption exactly (once)."""
    call = _call(idempotency_key, request, principal, data.model_dump(mode="json"))
    stored = await service.reverse(session, principal, transaction_id, data, call, clock.now())
    return _json(stored)
