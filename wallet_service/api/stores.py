"""``/api/v1/stores``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from wallet_service.http.deps import ClockDep, SessionDep, require
from wallet_service.http.pagination import PageParamsDep
from wallet_service.http.problems import responses
from wallet_service.schemas import Page
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal
from wallet_service.stores import service
from wallet_service.stores.schemas import StoreCreate, StoreRead, StoreUpdate

__all__ = ["router"]

router = APIRouter(prefix="/stores", tags=["stores"])

Reader = Annotated[Principal, Depends(require(Permission.stores_read))]
Writer = Annotated[Principal, Depends(require(Permission.stores_write))]


@router.get("", response_model=Page[StoreRead], responses=responses(401, 403))
async def list_stores(
    session: SessionDep, principal: Reader, page: PageParamsDep
) -> Page[StoreRead]:
    count, rows = await service.list_stores(
        session, principal.scope, offset=page.offset, limit=page.limit
    )
    return Page(data=[StoreRead.model_validate(r) for r in rows], count=count)


@router.post(
    "",
    response_model=StoreRead,
    status_code=status.HTTP_201_CREATED,
    responses=responses(401, 403, 422),
)
async def create_store(
    data: StoreCreate, session: SessionDep, principal: Writer, clock: ClockDep
) -> StoreRead:
    store = await service.create_store(session, principal.scope, data, clock.now())
    return StoreRead.model_validate(store)


@router.get("/{store_id}", response_model=StoreRead, responses=responses(401, 403, 404))
async def read_store(store_id: uuid.UUID, session: SessionDep, principal: Reader) -> StoreRead:
    return StoreRead.model_validate(await service.get_store(session, principal.scope, store_id))


@router.patch("/{store_id}", response_model=StoreRead, responses=responses(401, 403, 404, 422))
async def update_store(
    store_id: uuid.UUID,
    data: StoreUpdate,
    session: SessionDep,
    principal: Writer,
    clock: ClockDep,
) -> StoreRead:
    store = await service.update_store(session, principal.scope, store_id, data, clock.now())
    return StoreRead.model_validate(store)
