"""API key persistence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.api_keys.schemas import ApiKeyCreate
from wallet_service.db.models import ApiKey
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.security.api_keys import GeneratedKey, generate_api_key
from wallet_service.security.principal import MerchantScope
from wallet_service.stores.service import get_store

__all__ = ["create_api_key", "get_api_key", "list_api_keys", "revoke_api_key"]


async def create_api_key(
    session: AsyncSession, scope: MerchantScope, data: ApiKeyCreate
) -> tuple[ApiKey, GeneratedKey]:
    if data.store_id is not None:
        await get_store(session, scope, data.store_id)
    generated = generate_api_key()
    row = ApiKey(
        merchant_id=scope.merchant_id,
        name=data.name,
        prefix=generated.prefix,
        secret_hash=generated.secret_hash,
        scopes=[s.value for s in data.scopes],
        store_id=data.store_id,
    )
    session.add(row)
    await session.flush()
    return row, generated


async def get_api_key(session: AsyncSession, scope: MerchantScope, key_id: uuid.UUID) -> ApiKey:
    return await get_scoped(session, scope, ApiKey, key_id, what="api key")


async def list_api_keys(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[ApiKey]]:
    statement = scoped_select(scope, ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def revoke_api_key(
    session: AsyncSession, scope: MerchantScope, key_id: uuid.UUID, now: datetime
) -> ApiKey:
    row = await get_api_key(session, scope, key_id)
    if row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
    return row
