"""Staff payloads. Password hashes never leave the service."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr, Field, SecretStr, StrictBool

from wallet_service.schemas import ReadModel, RequestModel
from wallet_service.security.permissions import Role

__all__ = ["StaffCreate", "StaffRead", "StaffUpdate"]

MIN_PASSWORD_LENGTH = 10


class StaffCreate(RequestModel):
    email: EmailStr
    password: SecretStr = Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)
    full_name: str = Field(default="", max_length=200)
    role: Role
    store_id: uuid.UUID | None = None


class StaffUpdate(RequestModel):
    password: SecretStr | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=256)
    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    store_id: uuid.UUID | None = None
    is_active: StrictBool | None = None


class StaffRead(ReadModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    store_id: uuid.UUID | None
    is_active: bool
    created_at: datetime
