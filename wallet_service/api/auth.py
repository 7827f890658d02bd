"""``/api/v1/auth``: sign in, and say who the caller is."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from wallet_service.http.deps import (
    ClockDep,
    CurrentPrincipal,
    SessionFactoryDep,
    SettingsDep,
    TokenKeysDep,
)
from wallet_service.http.problems import responses
from wallet_service.http.rate_limits import LimitPerAddress, client_address
from wallet_service.security.permissions import Role
from wallet_service.security.principal import PrincipalKind
from wallet_service.staff.login import sign_in

__all__ = ["AccessToken", "PrincipalRead", "router"]


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int


class PrincipalRead(BaseModel):
    kind: PrincipalKind
    id: uuid.UUID
    merchant_id: uuid.UUID
    role: Role | None
    store_id: uuid.UUID | None
    permissions: list[str]


router = APIRouter(prefix="/auth", tags=["auth"])

_login_per_address = LimitPerAddress("login", lambda settings: settings.rate_limit_login)


@router.post(
    "/token",
    response_model=AccessToken,
    responses=responses(401, 422, 429),
    dependencies=[Depends(_login_per_address)],
)
async def create_access_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    factory: SessionFactoryDep,
    settings: SettingsDep,
    keys: TokenKeysDep,
    clock: ClockDep,
    merchant: Annotated[
        str | None,
        Form(
            max_length=80,
            description="The merchant's slug. Staff emails are unique per merchant: send it "
            "always; without it, an email with accounts at several merchants cannot sign in.",
        ),
    ] = None,
) -> AccessToken:
    """Exchange a staff email (``username``), password and ``merchant`` slug for a
    short-lived access token."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = await sign_in(
        factory,
        keys,
        request.app.state.login_lockout,
        email=form.username,
        password=form.password,
        address=client_address(request),
        lifetime=lifetime,
        now=clock.now(),
        merchant=merchant,
    )
    return AccessToken(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.get("/me", response_model=PrincipalRead, responses=responses(401))
async def read_current_principal(principal: CurrentPrincipal) -> PrincipalRead:
    return PrincipalRead(
        kind=principal.kind,
        id=principal.id,
        merchant_id=principal.scope.merchant_id,
        role=principal.role,
        store_id=principal.store_id,
        permissions=sorted(p.value for p in principal.permissions),
    )
