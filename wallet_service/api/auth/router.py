"""``/api/v1/auth``: sign in, and say who the caller is."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from wallet_service.api.auth.schemas import AccessToken, PrincipalRead
from wallet_service.api.auth.service import authenticate_staff
from wallet_service.api.deps import CurrentPrincipal, SessionDep, SettingsDep, TokenKeysDep
from wallet_service.api.problems import responses
from wallet_service.security.tokens import issue_access_token

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=AccessToken, responses=responses(401, 422))
async def create_access_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    keys: TokenKeysDep,
) -> AccessToken:
    """Exchange a staff email (``username``) and password for a short-lived access token."""
    staff = await authenticate_staff(session, form.username, form.password)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _ = issue_access_token(
        keys, staff_id=staff.id, merchant_id=staff.merchant_id, lifetime=lifetime
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
