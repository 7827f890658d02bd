"""Staff account persistence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import Merchant, StaffUser
from wallet_service.db.repository import count_and_list, get_scoped, scoped_select
from wallet_service.errors import Conflict
from wallet_service.security.passwords import new_password_hash
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope
from wallet_service.staff.schemas import StaffCreate, StaffUpdate
from wallet_service.stores.service import get_store

__all__ = ["create_staff", "get_staff", "list_staff", "update_staff"]


async def create_staff(session: AsyncSession, scope: MerchantScope, data: StaffCreate) -> StaffUser:
    # Hashed first: Argon2 takes a fifth of a second, which must not be spent holding locks.
    password_hash = await new_password_hash(data.password.get_secret_value())
    email = str(data.email).lower()
    # Unique per merchant only: an owner must learn nothing of other merchants' teams.
    taken = await session.execute(
        scoped_select(scope, StaffUser).where(func.lower(StaffUser.email) == email)
    )
    if taken.first() is not None:
        raise Conflict("That email already has a staff account here.", code="staff_email_taken")
    if data.store_id is not None:
        await get_store(session, scope, data.store_id)
    staff = StaffUser(
        merchant_id=scope.merchant_id,
        email=email,
        full_name=data.full_name,
        password_hash=password_hash,
        role=data.role,
        store_id=data.store_id,
    )
    session.add(staff)
    await session.flush()
    return staff


async def get_staff(session: AsyncSession, scope: MerchantScope, staff_id: uuid.UUID) -> StaffUser:
    return await get_scoped(session, scope, StaffUser, staff_id, what="staff")


async def list_staff(
    session: AsyncSession, scope: MerchantScope, *, offset: int, limit: int
) -> tuple[int, Sequence[StaffUser]]:
    statement = scoped_select(scope, StaffUser).order_by(StaffUser.email)
    return await count_and_list(session, statement, offset=offset, limit=limit)


async def _lock_team(session: AsyncSession, scope: MerchantScope) -> None:
    """Serialise the changes that could take the merchant's last owner away.

    Two owners demoting each other at once would each still see the other as owner; the
    merchant's row lock (PostgreSQL ``FOR UPDATE``; SQLite transactions are already one at a
    time, ``BEGIN IMMEDIATE``) makes the second wait and then count the first's change.
    """
    await session.execute(
        select(Merchant.id).where(Merchant.id == scope.merchant_id).with_for_update()
    )


async def _keep_an_owner(session: AsyncSession, scope: MerchantScope, staff: StaffUser) -> None:
    others = await session.execute(
        scoped_select(scope, StaffUser).where(
            StaffUser.id != staff.id,
            StaffUser.role == Role.owner,
            StaffUser.is_active.is_(True),
        )
    )
    if others.first() is None:
        raise Conflict(
            "This is the merchant's last active owner: make someone else owner first.",
            code="last_owner",
        )


async def update_staff(
    session: AsyncSession, scope: MerchantScope, staff_id: uuid.UUID, data: StaffUpdate
) -> StaffUser:
    # Hashed before the merchant's row is locked: Argon2 is slow on purpose.
    password = data.password
    password_hash = await new_password_hash(password.get_secret_value()) if password else None
    changes = data.model_dump(exclude_unset=True, exclude={"password"})
    guarded = changes.get("role") is not None or changes.get("is_active") is not None
    if guarded:
        await _lock_team(session, scope)
    staff = await get_staff(session, scope, staff_id)
    if guarded:
        # Read again under the lock: the row may be in this session since authentication.
        await session.refresh(staff)
        was_owner = staff.role == Role.owner and staff.is_active
        stays_owner = (changes.get("role") or staff.role) == Role.owner and changes.get(
            "is_active", staff.is_active
        ) is not False
        if was_owner and not stays_owner:
            await _keep_an_owner(session, scope, staff)
    if changes.get("store_id") is not None:
        await get_store(session, scope, changes["store_id"])
    for field, value in changes.items():
        if value is not None or field == "store_id":
            setattr(staff, field, value)
    if password_hash is not None:
        staff.password_hash = password_hash
    if password_hash is not None or data.is_active is False:
        # Revokes every access token issued before: a leaked one dies with the old password.
        # In SQL, not Python: two changes at once must each revoke, not both write N+1.
        staff.token_version = StaffUser.token_version + 1
    await session.flush()
    return staff
