"""Token and identity payloads."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from wallet_service.security.permissions import Role
from wallet_service.security.principal import PrincipalKind

__all__ = ["AccessToken", "PrincipalRead"]


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
