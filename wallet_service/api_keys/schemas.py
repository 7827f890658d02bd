"""API key payloads. The clear key appears once, in ``ApiKeyCreated``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from wallet_service.schemas import ReadModel, RequestModel
from wallet_service.security.permissions import (
    API_KEY_PERMISSIONS,
    DEFAULT_API_KEY_PERMISSIONS,
    Permission,
)

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyRead"]

# A till: look a card up and post scans. Anything more is asked for by name.
DEFAULT_SCOPES = sorted(DEFAULT_API_KEY_PERMISSIONS)


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Permission] = Field(
        default_factory=lambda: list(DEFAULT_SCOPES),
        description=(
            "Defaults to a till's (cards:lookup, scans:write). May add members:read, "
            "members:write, members:erase, programs:read, stores:read; never administration."
        ),
    )
    store_id: uuid.UUID | None = None

    @field_validator("scopes")
    @classmethod
    def _only_pos_scopes(cls, scopes: list[Permission]) -> list[Permission]:
        extra = set(scopes) - API_KEY_PERMISSIONS
        if extra:
            raise ValueError(f"API keys cannot hold {sorted(p.value for p in extra)}")
        return sorted(set(scopes))


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    store_id: uuid.UUID | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The clear API key. Shown once: store it now.")
