"""Tenant-scoped loading shared by every service: one way to fetch a row or 404."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.base import Base
from wallet_service.errors import NotFound
from wallet_service.security.principal import MerchantScope

__all__ = ["count_and_list", "find_scoped", "get_scoped", "scoped_select"]

ModelT = TypeVar("ModelT", bound=Base)


def scoped_select(scope: MerchantScope, model: type[ModelT]) -> Select[ModelT]:
    merchant_column: Any = model.merchant_id  # type: ignore[attr-defined]
    return select(model).where(merchant_column == scope.merchant_id)


async def find_scoped(
    session: AsyncSession,
    scope: MerchantScope,
    model: type[ModelT],
    row_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> ModelT | None:
    """The tenant's row, or ``None``: for rows one row points to (a referrer, a program)."""
    statement = scoped_select(scope, model).where(model.id == row_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_scoped(
    session: AsyncSession,
    scope: MerchantScope,
    model: type[ModelT],
    row_id: uuid.UUID,
    *,
    what: str,
    for_update: bool = False,
) -> ModelT:
    """The tenant's row, or ``NotFound``: another tenant's row is indistinguishable from none."""
    row = await find_scoped(session, scope, model, row_id, for_update=for_update)
    if row is None:
        raise NotFound(f"No {what} with id {row_id}.", code=f"{what.replace(' ', '_')}_not_found")
    return row


async def count_and_list(
    session: AsyncSession,
    statement: Select[ModelT],
    *,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[ModelT]]:
    total = (
        await session.execute(select(func.count()).select_from(statement.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(statement.offset(offset).limit(limit))).scalars().all()
    return total, rows
