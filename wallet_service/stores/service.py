"""Store persistence, always within one merchant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.accounts.posting import touch_passes
from wallet_service.db.models import Store
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.security.principal import MerchantScope
from wallet_service.stores.schemas import StoreCreate, StoreUpdate

__all__ = ["create_store", "get_store", "list_stores", "update_store"]


async def create_store(
    session: AsyncSession, scope: MerchantScope, data: StoreCreate, now: datetime
) -> Store:
    store = Store(merchant_id=scope.merchant_id, **data.model_dump())
    session.add(store)
    await session.flush()
    await touch_passes(session, scope, now)  # passes list the stores near the member
    return store


async def get_store(session: AsyncSession, scope: MerchantScope, store_id: uuid.UUID) -> Store:
    return await get_scoped(session, scope, Store, store_id, what="store")


async def list_stores(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[Store]]:
    statement = scoped_select(scope, Store).order_by(Store.name, Store.id)
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def update_store(
    session: AsyncSession,
    scope: MerchantScope,
    store_id: uuid.UUID,
    data: StoreUpdate,
    now: datetime,
) -> Store:
    store = await get_store(session, scope, store_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(store, field, value)
    await session.flush()
    if changes:
        await touch_passes(session, scope, now)
    return store
