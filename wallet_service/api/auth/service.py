"""Checking staff credentials."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import StaffUser
from wallet_service.errors import AuthenticationRequired
from wallet_service.security.passwords import verify_password_or_dummy

__all__ = ["authenticate_staff"]


async def authenticate_staff(session: AsyncSession, email: str, password: str) -> StaffUser:
    staff = (
        await session.execute(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))
    ).scalar_one_or_none()
    valid = verify_password_or_dummy(password, staff.password_hash if staff else None)
    if staff is None or not valid or not staff.is_active:
        # One message for every failure: don't tell an attacker which emails exist.
        raise AuthenticationRequired("Wrong email or password.", code="invalid_credentials")
    return staff
