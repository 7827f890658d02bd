"""``/api/v1/members`` and ``/api/v1/programs/{program_id}/members``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.api.deps import SessionDep, require
from wallet_service.api.members import service
from wallet_service.api.members.schemas import ConsentChange, ConsentRead, MemberCreate, MemberRead
from wallet_service.api.problems import responses
from wallet_service.api.schemas import Page, PageParamsDep
from wallet_service.db.models import Member
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import MerchantScope, Principal

__all__ = ["router"]

router = APIRouter(tags=["members"])

Reader = Annotated[Principal, Depends(require(Permission.members_read))]
Writer = Annotated[Principal, Depends(require(Permission.members_write))]


async def _read(session: AsyncSession, scope: MerchantScope, member: Member) -> MemberRead:
    consents = await service.current_consents(session, scope, member.id)
    return MemberRead.model_validate(member).model_copy(
        update={"consents": [ConsentRead.model_validate(c) for c in consents]}
    )


@router.post(
    "/programs/{program_id}/members",
    response_model=MemberRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 404, 409, 422),
)
async def create_member(
    program_id: uuid.UUID, data: MemberCreate, session: SessionDep, principal: Writer
) -> MemberRead:
    """Enrol a customer: returns the member with its pass serial number."""
    member = await service.create_member(
        session, principal.scope, program_id, data, source=principal.kind.value
    )
    return await _read(session, principal.scope, member)


@router.get("/members", response_model=Page[MemberRead], responses=responses(401, 403))
async def list_members(
    session: SessionDep,
    principal: Reader,
    page: PageParamsDep,
    program_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[MemberRead]:
    count, rows = await service.list_members(
        session, principal.scope, program_id=program_id, offset=page.offset, limit=page.limit
    )
    return Page(data=[MemberRead.model_validate(r) for r in rows], count=count)


@router.get("/members/{member_id}", response_model=MemberRead, responses=responses(401, 403, 404))
async def read_member(member_id: uuid.UUID, session: SessionDep, principal: Reader) -> MemberRead:
    member = await service.get_member(session, principal.scope, member_id)
    return await _read(session, principal.scope, member)


@router.post(
    "/members/{member_id}/consents",
    response_model=MemberRead,
    responses=responses(401, 403, 404, 422),
)
async def record_consents(
    member_id: uuid.UUID, changes: list[ConsentChange], session: SessionDep, principal: Writer
) -> MemberRead:
    """Record consent decisions (with time and source); the history is kept."""
    member = await service.get_member(session, principal.scope, member_id)
    await service.record_consents(
        session, principal.scope, member, changes, source=principal.kind.value
    )
    return await _read(session, principal.scope, member)
