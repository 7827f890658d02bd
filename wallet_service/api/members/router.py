"""``/api/v1/members`` and ``/api/v1/programs/{program_id}/members``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.api.deps import GoogleWalletDep, LinksDep, SessionDep, require
from wallet_service.api.idempotency import IdempotencyKeyDep, IdempotentCall
from wallet_service.api.members import service
from wallet_service.api.members.accounts import PostingSource
from wallet_service.api.members.schemas import ConsentChange, ConsentRead, MemberCreate, MemberRead
from wallet_service.api.problems import responses
from wallet_service.api.schemas import Page, PageParamsDep
from wallet_service.db.base import utcnow
from wallet_service.db.models import Member
from wallet_service.google.wallet import GoogleWallet
from wallet_service.links import MemberLinks
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import MerchantScope, Principal

__all__ = ["router"]

router = APIRouter(tags=["members"])

Reader = Annotated[Principal, Depends(require(Permission.members_read))]
Writer = Annotated[Principal, Depends(require(Permission.members_write))]


def _with_links(member: Member, links: MemberLinks, google: GoogleWallet) -> MemberRead:
    return MemberRead.model_validate(member).model_copy(
        update={
            "apple_pass_url": links.apple_pass_url(member.serial_number),
            "google_save_url": google.save_url(member, utcnow()),
            "card_url": links.card_page_url(member.serial_number),
        }
    )


async def _read(
    session: AsyncSession,
    scope: MerchantScope,
    member: Member,
    links: MemberLinks,
    google: GoogleWallet,
) -> MemberRead:
    consents = await service.current_consents(session, scope, member.id)
    return _with_links(member, links, google).model_copy(
        update={"consents": [ConsentRead.model_validate(c) for c in consents]}
    )


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
    idempotency_key: IdempotencyKeyDep,
    background: BackgroundTasks,
) -> MemberRead | JSONResponse:
    """Enrol a customer: returns the member with its pass serial number.

    With an ``Idempotency-Key``, a double-submitted form enrols (and welcomes) once.
    """
    call = None
    if idempotency_key:
        payload = data.model_dump(mode="json")
        call = IdempotentCall.for_caller(principal.id, idempotency_key, request.url.path, payload)
        if (stored := await call.replay(session, principal.scope)) is not None:
            return JSONResponse(stored.body, status_code=stored.status_code)
    member = await service.create_member(
        session,
        principal.scope,
        program_id,
        data,
        source=principal.kind.value,
        posting_source=PostingSource.from_principal(principal, channel="enrolment"),
    )
    created = await _read(session, principal.scope, member, links, google)
    if call is not None:
        await call.remember(session, principal.scope, created)
    if created.google_save_url:  # the save link works once Google has the card: send it now
        background.add_task(google.sync_new_member, request.app.state.session_factory, member.id)
    return created


@router.get("/members", response_model=Page[MemberRead], responses=responses(401, 403))
async def list_members(
    session: SessionDep,
    principal: Reader,
    page: PageParamsDep,
    links: LinksDep,
    google: GoogleWalletDep,
    program_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[MemberRead]:
    count, rows = await service.list_members(
        session, principal.scope, program_id=program_id, offset=page.offset, limit=page.limit
    )
    return Page(data=[_with_links(r, links, google) for r in rows], count=count)


@router.get("/members/{member_id}", response_model=MemberRead, responses=responses(401, 403, 404))
async def read_member(
    member_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    links: LinksDep,
    google: GoogleWalletDep,
) -> MemberRead:
    member = await service.get_member(session, principal.scope, member_id)
    return await _read(session, principal.scope, member, links, google)


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
) -> MemberRead:
    """Cancel the membership: the card stops scanning and shows as void / inactive in the
    customer's wallet (Apple at its next update, Google at the worker's next sync)."""
    member = await service.cancel_member(session, principal.scope, member_id)
    return await _read(session, principal.scope, member, links, google)


@router.post(
    "/members/{member_id}/erasure",
    response_model=MemberRead,
    responses=responses(401, 403, 404),
)
async def erase_member(
    member_id: uuid.UUID,
    session: SessionDep,
    principal: Writer,
    links: LinksDep,
    google: GoogleWalletDep,
) -> MemberRead:
    """Erase the customer's personal data (right to erasure): name, email, birthday and home
    store are wiped, the card is voided / inactive in the wallets, the ledger is kept
    anonymous for accounting."""
    member = await service.erase_member(session, principal.scope, member_id)
    return await _read(session, principal.scope, member, links, google)


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
) -> MemberRead:
    """Record consent decisions (with time and source); the history is kept."""
    member = await service.get_member(session, principal.scope, member_id)
    await service.record_consents(
        session, principal.scope, member, changes, source=principal.kind.value
    )
    return await _read(session, principal.scope, member, links, google)
