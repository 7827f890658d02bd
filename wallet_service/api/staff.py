"""``/api/v1/staff``: owners manage their team."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from wallet_service.http.deps import SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal
from wallet_service.staff import service
from wallet_service.staff.schemas import StaffCreate, StaffRead, StaffUpdate

__all__ = ["router"]

router = APIRouter(prefix="/staff", tags=["staff"])

Manager = Annotated[Principal, Depends(require(Permission.staff_manage))]


@router.get("", response_model=Page[StaffRead], responses=responses(401, 403))
async def list_staff(
    session: SessionDep, principal: Manager, page: PageParamsDep
) -> Page[StaffRead]:
    count, rows = await service.list_staff(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[StaffRead.model_validate(r) for r in rows], count=count)


@router.post(
    "",
    response_model=StaffRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 404, 409, 422),
)
async def create_staff(data: StaffCreate, session: SessionDep, principal: Manager) -> StaffRead:
    return StaffRead.model_validate(await service.create_staff(session, principal.scope, data))


@router.get("/{staff_id}", response_model=StaffRead, responses=responses(401, 403, 404))
async def read_staff(staff_id: uuid.UUID, session: SessionDep, principal: Manager) -> StaffRead:
    return StaffRead.model_validate(await service.get_staff(session, principal.scope, staff_id))


@router.patch("/{staff_id}", response_model=StaffRead, responses=responses(401, 403, 404, 409, 422))
async def update_staff(
    staff_id: uuid.UUID, data: StaffUpdate, session: SessionDep, principal: Manager
) -> StaffRead:
    """Change a role, store, name or password, or deactivate; the last active owner stays
    (409 ``last_owner``)."""
    staff = await service.update_staff(session, principal.scope, staff_id, data)
    return StaffRead.model_validate(staff)
