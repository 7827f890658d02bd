"""``/api/v1/programs``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from wallet_service.http.deps import ClockDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.programs import service
from wallet_service.programs.schemas import ProgramCreate, ProgramRead, ProgramUpdate
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

router = APIRouter(prefix="/programs", tags=["programs"])

Reader = Annotated[Principal, Depends(require(Permission.programs_read))]
Writer = Annotated[Principal, Depends(require(Permission.programs_write))]


@router.get("", response_model=Page[ProgramRead], responses=responses(401, 403))
async def list_programs(
    session: SessionDep, principal: Reader, page: PageParamsDep
) -> Page[ProgramRead]:
    count, rows = await service.list_programs(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[ProgramRead.model_validate(r) for r in rows], count=count)


@router.post(
    "",
    response_model=ProgramRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 422),
)
async def create_program(
    data: ProgramCreate, session: SessionDep, principal: Writer
) -> ProgramRead:
    return ProgramRead.model_validate(await service.create_program(session, principal.scope, data))


@router.get("/{program_id}", response_model=ProgramRead, responses=responses(401, 403, 404))
async def read_program(
    program_id: uuid.UUID, session: SessionDep, principal: Reader
) -> ProgramRead:
    return ProgramRead.model_validate(
        await service.get_program(session, principal.scope, program_id)
    )


@router.patch("/{program_id}", response_model=ProgramRead, responses=responses(401, 403, 404, 422))
async def update_program(
    program_id: uuid.UUID,
    data: ProgramUpdate,
    session: SessionDep,
    principal: Writer,
    clock: ClockDep,
) -> ProgramRead:
    program = await service.update_program(session, principal.scope, program_id, data, clock.now())
    return ProgramRead.model_validate(program)
