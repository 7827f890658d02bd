"""Staff sign-in: checking credentials and issuing the short-lived access token."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.db.models import Merchant, StaffUser
from wallet_service.db.session import session_scope
from wallet_service.errors import AuthenticationRequired, ServiceUnavailable
from wallet_service.rate_limits.counters import CountersUnavailable
from wallet_service.rate_limits.lockout import LoginLockout
from wallet_service.security.passwords import check_password, needs_rehash, new_password_hash
from wallet_service.security.tokens import TokenKeys, issue_access_token

__all__ = ["authenticate_staff", "sign_in"]


async def authenticate_staff(
    factory: async_sessionmaker[AsyncSession],
    email: str,
    password: str,
    merchant: str | None = None,
) -> StaffUser:
    """The staff member these credentials name; one ``AuthenticationRequired`` otherwise.

    Emails are unique per merchant, so ``merchant`` (its slug) says whose account it is.
    Without it, an email that has accounts at several merchants names none of them.

    The account is read in a transaction of its own, which ends before the password is
    checked: Argon2 takes tens of milliseconds, and a flood of wrong passwords must not
    hold the database connections (on SQLite, the one connection) that scans need.
    """
    statement = select(StaffUser).where(func.lower(StaffUser.email) == email.lower())
    if merchant is not None:
        statement = statement.join(Merchant, Merchant.id == StaffUser.merchant_id).where(
            Merchant.slug == merchant
        )
    async with session_scope(factory) as session:
        found = (await session.execute(statement.limit(2))).scalars().all()
    staff = found[0] if len(found) == 1 else None
    valid = await check_password(password, staff.password_hash if staff else None)
    if staff is None or not valid or not staff.is_active:
        # One message for every failure: don't tell an attacker which emails exist.
        raise AuthenticationRequired("Wrong email or password.", code="invalid_credentials")
    if needs_rehash(staff.password_hash):
        await _rehash(factory, staff, password)
    return staff


async def _rehash(
    factory: async_sessionmaker[AsyncSession], staff: StaffUser, password: str
) -> None:
    """Bring a hash made with older parameters up to today's, now that we hold the password.

    Otherwise old hashes would keep their own cost (and timing: a sign-in's speed would tell
    accounts made before the change from unknown emails) until the password changes. Compare
    and set: a password changed meanwhile is never overwritten.
    """
    fresh = await new_password_hash(password)
    async with session_scope(factory) as session:
        await session.execute(
            update(StaffUser)
            .where(StaffUser.id == staff.id, StaffUser.password_hash == staff.password_hash)
            .values(password_hash=fresh)
        )


async def sign_in(
    factory: async_sessionmaker[AsyncSession],
    keys: TokenKeys,
    lockout: LoginLockout,
    *,
    email: str,
    password: str,
    address: str,
    lifetime: timedelta,
    now: datetime,
    merchant: str | None = None,
) -> str:
    """An access token for the staff member these credentials name.

    ``address`` is the client's: repeated failures lock that address out of this account
    for a while (see :mod:`wallet_service.rate_limits.lockout`), checked before any hashing.
    """
    # The account as the lockout knows it: staff emails are unique per merchant only.
    account = f"{(merchant or '').strip().lower()}\x00{email}"
    try:
        await lockout.check(account, address)
        try:
            staff = await authenticate_staff(factory, email, password, merchant)
        except AuthenticationRequired:
            await lockout.failed(account, address)
            raise
        await lockout.succeeded(account, address)
    except CountersUnavailable as exc:
        # Closed, not open: without its counters the lockout could not stop a guesser.
        raise ServiceUnavailable(
            "Sign-in is unavailable for a moment; try again.", code="sign_in_unavailable"
        ) from exc
    token, _ = issue_access_token(
        keys,
        staff_id=staff.id,
        merchant_id=staff.merchant_id,
        token_version=staff.token_version,
        lifetime=lifetime,
        now=now,
    )
    return token
