"""Staff sign-in: checking credentials and issuing the short-lived access token."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wallet_service.db.models import StaffUser
from wallet_service.errors import AuthenticationRequired
from wallet_service.security.passwords import verify_password_or_dummy
from wallet_service.security.tokens import TokenKeys, issue_access_token

__all__ = ["authenticate_staff", "sign_in"]


async def authenticate_staff(session: AsyncSession, email: str, password: str) -> StaffUser:
    staff = (
        await session.execute(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))
    ).scalar_one_or_none()
    valid = verify_password_or_dummy(password, staff.password_hash if staff else None)
    if staff is None or not valid or not staff.is_active:
        # One message for every failure: don't tell an attacker which emails exist.
        raise AuthenticationRequired("Wrong email or password.", code="invalid_credentials")
    return staff


async def sign_in(
    session: AsyncSession,
    keys: TokenKeys,
    *,
    email: str,
    password: str,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """An access token for the staff member these credentials name."""
    staff = await authenticate_staff(session, email, password)
    token, _ = issue_access_token(
        keys, staff_id=staff.id, merchant_id=staff.merchant_id, lifetime=lifetime, now=now
    )
    return token
