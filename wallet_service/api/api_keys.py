"""``/api/v1/api-keys``: owners issue and revoke POS keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from wallet_service.api_keys import service
from wallet_service.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from wallet_service.http.deps import ClockDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.schemas import Page
from wallet_service.security.api_keys import RecentKeys
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api-keys", tags=["api keys"])

Manager = Annotated[Principal, Depends(require(Permission.api_keys_manage))]


@router.get("", response_model=Page[ApiKeyRead], responses=responses(401, 403))
async def list_api_keys(
    session: SessionDep, principal: Manager, page: PageParamsDep
) -> Page[ApiKeyRead]:
    count, rows = await service.list_api_keys(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[ApiKeyRead.model_validate(r) for r in rows], count=count)


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 404, 422),
)
async def create_api_key(
    data: ApiKeyCreate, session: SessionDep, principal: Manager
) -> ApiKeyCreated:
    row, generated = await service.create_api_key(session, principal.scope, data)
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(row).model_dump(), "key": generated.clear}
    )


@router.get("/{key_id}", response_model=ApiKeyRead, responses=responses(401, 403, 404))
async def read_api_key(key_id: uuid.UUID, session: SessionDep, principal: Manager) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await service.get_api_key(session, principal.scope, key_id))


@router.delete(
    "/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 403, 404)
)
async def revoke_api_key(
    request: Request,
    key_id: uuid.UUID,
    session: SessionDep,
    principal: Manager,
    clock: ClockDep,
) -> None:
    revoked = await service.revoke_api_key(session, principal.scope, key_id, clock.now())
    recent: RecentKeys = request.app.state.recent_api_keys
    recent.forget(revoked.prefix)  # other processes follow within its few seconds
