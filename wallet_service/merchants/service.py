"""Creating and changing merchants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import touch_passes
from wallet_service.db.models import Merchant
from wallet_service.errors import Conflict, NotFound
from wallet_service.merchants.schemas import MerchantCreate, MerchantUpdate
from wallet_service.security.principal import MerchantScope

__all__ = ["create_merchant", "get_merchant", "get_merchant_by_slug", "update_merchant"]


async def create_merchant(session: AsyncSession, data: MerchantCreate) -> Merchant:
    if await get_merchant_by_slug(session, data.slug) is not None:
        raise Conflict(f"A merchant with slug {data.slug!r} exists.", code="merchant_exists")
    merchant = Merchant(name=data.name, slug=data.slug)
    session.add(merchant)
    await session.flush()
    return merchant


async def get_merchant_by_slug(session: AsyncSession, slug: str) -> Merchant | None:
    return (
        await session.execute(select(Merchant).where(Merchant.slug == slug))
    ).scalar_one_or_none()


async def get_merchant(session: AsyncSession, scope: MerchantScope) -> Merchant:
    merchant = await session.get(Merchant, scope.merchant_id)
    if merchant is None:
        raise NotFound("The merchant no longer exists.", code="merchant_not_found")
    return merchant


async def update_merchant(
    session: AsyncSession, scope: MerchantScope, data: MerchantUpdate, now: datetime
) -> Merchant:
    merchant = await get_merchant(session, scope)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(merchant, field, value)
    if changes:  # the organisation name is on every card
        await touch_passes(session, scope, now)
    await session.flush()
    return merchant
