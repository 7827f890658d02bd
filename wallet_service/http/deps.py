"""Typed dependencies every route uses: the session, the clock, the settings, who is calling.

Authentication and authorisation happen here and nowhere else: a route declares the
permission it needs (``require(Permission.x)``) and receives a ``Principal`` whose ``scope``
it passes to services. Routes take "now" from ``ClockDep`` (``app.state.clock``), never from
the machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet_service.clock import Clock
from wallet_service.config import Settings
from wallet_service.db.models import ApiKey, StaffUser
from wallet_service.db.session import session_scope
from wallet_service.errors import AuthenticationRequired, InvalidRequest, PermissionDenied
from wallet_service.links import MemberLinks
from wallet_service.security.api_keys import RecentKeys, secret_matches, split_api_key
from wallet_service.security.keys import KeyRing
from wallet_service.security.permissions import ROLE_PERMISSIONS, Permission
from wallet_service.security.principal import MerchantScope, Principal, PrincipalKind
from wallet_service.security.tokens import InvalidToken, TokenKeys, read_access_token

__all__ = [
    "BarcodeKeysDep",
    "ClockDep",
    "CurrentPrincipal",
    "IdempotencyKeyDep",
    "LinksDep",
    "SessionDep",
    "SessionFactoryDep",
    "SettingsDep",
    "TokenKeysDep",
    "require",
]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.session_factory) as session:
        yield session


# Dependencies are ``async def`` even when they do not await: FastAPI runs plain ``def``
# dependencies in a worker thread, a hop that cost more than the work they do.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_token_keys(request: Request) -> TokenKeys:
    keys: TokenKeys = request.app.state.token_keys
    return keys


async def get_links(request: Request) -> MemberLinks:
    links: MemberLinks = request.app.state.links
    return links


async def get_session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_barcode_keys(request: Request) -> KeyRing:
    keys: KeyRing = request.app.state.barcode_keys
    return keys


# scope="function": the transaction commits before the response is sent, so a client never
# sees success for a write that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenKeysDep = Annotated[TokenKeys, Depends(get_token_keys)]
LinksDep = Annotated[MemberLinks, Depends(get_links)]
# For the few routes that run several units of work (a call to Google between two
# transactions) instead of the request's one.
SessionFactoryDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_factory)]
ClockDep = Annotated[Clock, Depends(get_clock)]
BarcodeKeysDep = Annotated[KeyRing, Depends(get_barcode_keys)]

API_KEY_USAGE_RESOLUTION = timedelta(minutes=1)

# Built once: every POS request runs it, and building a statement costs about as much CPU as
# the round trip.
_API_KEY = select(ApiKey).where(ApiKey.prefix == bindparam("prefix"))

_bearer = HTTPBearer(auto_error=False, description="Staff access token or POS API key")


async def _principal_from_api_key(
    session: AsyncSession, key: str, now: datetime, recent: RecentKeys | None = None
) -> Principal:
    parts = split_api_key(key)
    if parts is None:
        raise AuthenticationRequired("The API key is malformed.", code="invalid_credentials")
    prefix, secret = parts
    if recent is not None and (known := recent.principal(prefix, secret)) is not None:
        return known
    row = (await session.execute(_API_KEY, {"prefix": prefix})).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not secret_matches(secret, row.secret_hash):
        raise AuthenticationRequired("The API key is not valid.", code="invalid_credentials")
    if row.last_used_at is None or now - row.last_used_at > API_KEY_USAGE_RESOLUTION:
        # At most once a minute: every request writing this one row would queue all of a
        # till's requests behind each other on its lock.
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == row.id,
                (ApiKey.last_used_at.is_(None))
                | (ApiKey.last_used_at < now - API_KEY_USAGE_RESOLUTION),
            )
            .values(last_used_at=now)
        )
    principal = Principal(
        kind=PrincipalKind.api_key,
        id=row.id,
        scope=MerchantScope.of_credential(row.merchant_id),
        permissions=frozenset(Permission(s) for s in row.scopes),
        store_id=row.store_id,
    )
    if recent is not None:
        recent.remember(prefix, row.secret_hash, principal)
    return principal


async def _principal_from_access_token(
    session: AsyncSession, keys: TokenKeys, token: str, now: datetime
) -> Principal:
    try:
        claims = read_access_token(keys, token, now)
    except InvalidToken as exc:
        raise AuthenticationRequired(
            "The access token is expired or invalid.", code="invalid_token"
        ) from exc
    staff = await session.get(StaffUser, claims.staff_id)
    # The role is read from the database, not the token, so demotions apply at once; the
    # token version, so a password change or a deactivation revokes earlier tokens.
    if (
        staff is None
        or not staff.is_active
        or staff.merchant_id != claims.merchant_id
        or staff.token_version != claims.token_version
    ):
        raise AuthenticationRequired(
            "The access token was revoked or the account is disabled.", code="invalid_token"
        )
    return Principal(
        kind=PrincipalKind.staff,
        id=staff.id,
        scope=MerchantScope.of_credential(staff.merchant_id),
        permissions=ROLE_PERMISSIONS[staff.role],
        role=staff.role,
        store_id=staff.store_id,
    )


async def authenticate(
    request: Request,
    session: SessionDep,
    keys: TokenKeysDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationRequired("Send 'Authorization: Bearer <token or API key>'.")
    if credentials.credentials.startswith("wsk_"):
        recent: RecentKeys = request.app.state.recent_api_keys
        return await _principal_from_api_key(session, credentials.credentials, clock.now(), recent)
    return await _principal_from_access_token(session, keys, credentials.credentials, clock.now())


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class _RequirePermission:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.can(self.permission):
            raise PermissionDenied(f"This action needs the '{self.permission.value}' permission.")
        return principal


def require(permission: Permission) -> _RequirePermission:
    """Dependency: the caller, checked for ``permission``.

    Routers declare ``Annotated[Principal, Depends(require(Permission.stores_write))]``.
    """
    return _RequirePermission(permission)


async def _idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(description="Unique per operation; a retry with the same key does nothing twice."),
    ] = None,
) -> str | None:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key"
        )
    return idempotency_key


IdempotencyKeyDep = Annotated[str | None, Depends(_idempotency_key)]
