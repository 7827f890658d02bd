"""``/api/v1/members`` and ``/api/v1/programs/{program_id}/members``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from wallet_service.google.deps import GoogleWalletDep
from wallet_service.http.deps import ClockDep, IdempotencyKeyDep, LinksDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.idempotency.records import IdempotentCall, StoredResponse
from wallet_service.members import service
from wallet_service.members.schemas import ConsentChange, MemberCreate, MemberRead
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

router = APIRouter(tags=["members"])

Reader = Annotated[Principal, Depends(require(Permission.members_read))]
Writer = Annotated[Principal, Depends(require(Permission.members_write))]
Eraser = Annotated[Principal, Depends(require(Permission.members_erase))]


@router.post(
    "/programs/{program_id}/members",
    response_model=MemberRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 404, 409, 422),
)
async def create_member(
    request: Request,
    program_id: uuid.UUID,
    data: MemberCreate,
    session: SessionDep,
    principal: Writer,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
    idempotency_key: IdempotencyKeyDep,
) -> MemberRead | JSONResponse:
    """Enrol a customer: returns the member with its pass serial number.

    With an ``Idempotency-Key``, a double-submitted form enrols (and welcomes) once.
    """
    call = None
    if idempotency_key:
        payload = data.model_dump(mode="json")
        call = IdempotentCall.for_caller(principal.id, idempotency_key, request.url.path, payload)
    created = await service.enrol(
        session,
        principal,
        program_id,
        data,
        call=call,
        links=links,
        google=google,
        now=clock.now(),
    )
    if isinstance(created, StoredResponse):
        return JSONResponse(created.body, status_code=created.status_code)
    return created


@router.get("/members", response_model=Page[MemberRead], responses=responses(401, 403))
async def list_members(
    session: SessionDep,
    principal: Reader,
    page: PageParamsDep,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
    program_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[MemberRead]:
    count, rows = await service.list_members(
        session, principal.scope, program_id=program_id, offset=page.offset, limit=page.limit
    )
    now = clock.now()
    data = [
        await service.present_member(
            session, principal.scope, row, links, google, now, with_consents=False
        )
        for row in rows
    ]
    return Page(data=data, count=count)


@router.get("/members/{member_id}", response_model=MemberRead, responses=responses(401, 403, 404))
async def read_member(
    member_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
) -> MemberRead:
    member = await service.get_member(session, principal.scope, member_id)
    return await service.present_member(
        session, principal.scope, member, links, google, clock.now()
    )


@router.post(
    "/members/{member_id}/cancellation",
    response_model=MemberRead,
    responses=responses(401, 403, 404),
)
async def cancel_member(
    member_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
) -> MemberRead:
    """Cancel the membership: the card stops scanning and shows as void / inactive in the
    customer's wallet (Apple at its next update, Google at the worker's next sync)."""
    now = clock.now()
    member = await service.cancel_member(session, principal.scope, member_id, now)
    return await service.present_member(session, principal.scope, member, links, google, now)


@router.post(
    "/members/{member_id}/erasure",
    response_model=MemberRead,
    responses=responses(401, 403, 404),
)
async def erase_member(
    member_id: uuid.UUID,
    session: SessionDep,
    principal: Eraser,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
) -> MemberRead:
    """Erase the customer's personal data (right to erasure): name, email, birthday and home
    store are wiped, the card is voided / inactive in the wallets, the ledger is kept
    anonymous for accounting."""
    now = clock.now()
    member = await service.erase_member(session, principal.scope, member_id, now)
    return await service.present_member(session, principal.scope, member, links, google, now)


@router.post(
    "/members/{member_id}/consents",
    response_model=MemberRead,
    responses=responses(401, 403, 404, 422),
)
async def record_consents(
    member_id: uuid.UUID,
    changes: list[ConsentChange],
    session: SessionDep,
    principal: Writer,
    links: LinksDep,
    google: GoogleWalletDep,
    clock: ClockDep,
) -> MemberRead:
    """Record consent decisions (with time and source); the history is kept."""
    member = await service.record_member_consents(
        session, principal.scope, member_id, changes, source=principal.kind.value
    )
    return await service.present_member(
        session, principal.scope, member, links, google, clock.now()
    )
