"""``/api/v1/merchant``: the caller's own merchant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from wallet_service.http.deps import ClockDep, SessionDep, require
from wallet_service.http.problems import responses
from wallet_service.merchants import service
from wallet_service.merchants.schemas import MerchantRead, MerchantUpdate
from wallet_service.security.permissions import Permission
from wallet_service.security.principal import Principal

__all__ = ["router"]

router = APIRouter(prefix="/merchant", tags=["merchant"])

Reader = Annotated[Principal, Depends(require(Permission.merchant_read))]
Writer = Annotated[Principal, Depends(require(Permission.merchant_write))]


@router.get("", response_model=MerchantRead, responses=responses(401, 403))
async def read_merchant(session: SessionDep, principal: Reader) -> MerchantRead:
    return MerchantRead.model_validate(await service.get_merchant(session, principal.scope))


@router.patch("", response_model=MerchantRead, responses=responses(401, 403, 422))
async def update_merchant(
    data: MerchantUpdate, session: SessionDep, principal: Writer, clock: ClockDep
) -> MerchantRead:
    merchant = await service.update_merchant(session, principal.scope, data, clock.now())
    return MerchantRead.model_validate(merchant)
